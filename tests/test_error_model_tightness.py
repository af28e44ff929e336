"""The error bound against correct implementations that differ only in rounding
(``tests/catalogue/calibration.py``, its written-out members): no false alarm, and no looser than
measured.

Tightness is ``min bound / error`` over the values of a case (h_t and c_T), the error each value's
largest over the ensemble. Below 1 a correct implementation fails; above its ceiling the bound has
loosened and lets defects through that it caught when the ceiling was recorded."""

from __future__ import annotations

import pytest

from tests.catalogue.calibration import tightness

MEASURED = {
    ("float64", "ieee", (5, 4, 7), 8): 19.1,
    ("float64", "ieee", (8, 129, 129), 1): 15.2,
    ("float32", "ieee", (5, 4, 7), 8): 20.7,
    ("float32", "ieee", (8, 129, 129), 1): 11.6,
    ("float32", "tf32", (8, 129, 129), 1): 6.04,
    ("float16", "ieee", (65, 8, 9), 1): 16.0,
    ("float16", "ieee", (5, 4, 7), 8): 17.7,
    ("bfloat16", "ieee", (5, 4, 7), 8): 18.6,
    ("bfloat16", "ieee", (8, 129, 129), 1): 14.5,
}
"""(dtype, precision, (B, I, H), T) -> the tightness measured when the model last changed (seed 0)."""

SLACK = 1.5
"""How far above its measured value a tightness may drift (another BLAS, another CPU) before the
test calls the bound loosened."""


@pytest.mark.parametrize("case", MEASURED, ids=lambda c: f"{c[0]}-{c[1]}-{'x'.join(map(str, c[2]))}-T{c[3]}")
def test_bound_tight_on_correct_implementations(case: tuple[str, str, tuple[int, int, int], int]) -> None:
    t = tightness(*case, adapters=False, cache=False)
    assert t.tightness >= 1, (f"false alarm: largest error {t.largest_error:.3g} against a bound of "
                              f"{t.bound_there:.3g} there; min bound / error {t.tightness:.3g}, should be >= 1")
    assert t.tightness <= SLACK * MEASURED[case], (
        f"bound loosened: min bound / error {t.tightness:.3g}, should be <= {SLACK} x {MEASURED[case]} "
        f"(measured); largest error {t.largest_error:.3g}, bound there {t.bound_there:.3g}")
