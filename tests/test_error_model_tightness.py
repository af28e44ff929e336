"""The error bound against correct implementations that differ only in rounding
(``tests/catalogue/calibration.py``, its written-out members): no false alarm, and no looser than
measured.

Tightness is ``min bound / error`` over the values of a case (h_t and c_T), the error each value's
largest over the ensemble. Below 1 a correct implementation fails; above its ceiling the bound has
loosened and lets defects through that it caught when the ceiling was recorded."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from lstm_verify.error_model import gradient_bounds
from lstm_verify.params import Case

from tests.catalogue.calibration import tightness

MEASURED = {
    ("float64", "ieee", (2, 3, 2), 1): 25.9,
    ("float64", "ieee", (5, 4, 7), 8): 15.9,
    ("float64", "ieee", (8, 129, 129), 1): 14.0,
    ("float32", "ieee", (1, 1, 3), 1): 12.1,
    ("float32", "ieee", (5, 4, 7), 8): 15.7,
    ("float32", "ieee", (8, 129, 129), 1): 11.0,
    ("float32", "tf32", (8, 129, 129), 1): 6.04,
    ("float16", "ieee", (65, 8, 9), 1): 4.62,
    ("float16", "ieee", (5, 4, 7), 8): 7.59,
    ("bfloat16", "ieee", (5, 4, 7), 8): 9.89,
    ("bfloat16", "ieee", (8, 129, 129), 1): 5.9,
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


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_bounds_finite_over_a_long_sequence(dtype: str) -> None:
    """The worst-case error of a gradient can grow geometrically over a long sequence (in bfloat16 it
    outgrows float32 within a thousand steps); the bound then falls back to the sub-Gaussian one,
    finite, never NaN, and a warning-free computation."""
    case = Case(1, 3, 4, steps=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bounds = gradient_bounds(*case.arrays(), *case.loss_weights(), dtype)
    for name, bound in bounds.items():
        assert np.isfinite(bound).all() and (bound > 0).all(), f"dL/d{name}: a bound not finite and positive"
