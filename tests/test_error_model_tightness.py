"""The error bound against correct implementations that differ only in rounding
(``tests/catalogue/calibration.py``, its written-out members): no false alarm, and no looser than
measured.

Tightness is ``min bound / error`` over the values (h_t and c_T) of a size's cases (seeds 0, 1, ...
until they hold ``SAMPLE`` values), the error each value's largest over the ensemble. Below 1 a
correct implementation fails; above its ceiling the bound has loosened and lets defects through that
it caught when the ceiling was recorded."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pytest

from lstm_verify import reference
from lstm_verify.error_model import forward_bounds, gradient_bounds
from lstm_verify.params import Case

from tests.catalogue import calibration
from tests.catalogue.calibration import tightness

MEASURED = {
    ("float64", "ieee", (2, 3, 2), 1): 3.26,
    ("float64", "ieee", (5, 4, 7), 8): 5.08,
    ("float64", "ieee", (8, 129, 129), 1): 9.6,
    ("float32", "ieee", (1, 1, 3), 1): 4.34,
    ("float32", "ieee", (5, 4, 7), 8): 4.96,
    ("float32", "ieee", (8, 129, 129), 1): 9.65,
    ("float32", "tf32", (8, 129, 129), 1): 5.98,
    ("float16", "ieee", (65, 8, 9), 1): 3.37,
    ("float16", "ieee", (5, 4, 7), 8): 4.27,
    ("bfloat16", "ieee", (5, 4, 7), 8): 3.18,
    ("bfloat16", "ieee", (8, 129, 129), 1): 3.91,
}
"""(dtype, precision, (B, I, H), T) -> the tightness measured when the model last changed."""

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


@pytest.mark.parametrize("shape", [(2, 3, 2), (5, 4, 7)], ids=lambda s: "x".join(map(str, s)))
def test_bound_holds_against_a_float64_oracle(shape: tuple[int, int, int], monkeypatch: pytest.MonkeyPatch) -> None:
    """Where NumPy's longdouble is not x87's the oracle computes in float64, with errors as large as a
    float64 implementation's, and the float64 bound makes room for both: no false alarm then either
    (over 8 steps, at the size's sampled cases), and the bound is wider than against the extended oracle."""
    extended = tightness("float64", "ieee", shape, 8, adapters=False, cache=False)
    monkeypatch.setattr(reference, "EXTENDED", None)
    calibration._case.cache_clear()
    try:
        t = tightness("float64", "ieee", shape, 8, adapters=False, cache=False)
    finally:
        calibration._case.cache_clear()
    assert t.tightness >= 1, (f"false alarm against a float64 oracle: largest error {t.largest_error:.3g}, "
                              f"bound there {t.bound_there:.3g}; min bound / error {t.tightness:.3g}")
    assert t.median > extended.median, "the bound against a float64 oracle should be the wider"


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


@dataclass(frozen=True)
class RoundsOver(reference.Variant):
    """The clip of an implementation whose values within 2^-25 of it, relative (a quarter of a
    float32 unit in the last place), round over it: clipped there, with a zero derivative."""

    def clipped(self, z: np.ndarray, where: str) -> np.ndarray:
        return np.where(self._over(z), np.sign(z) * self.clip, z) if self.clips(where) else z

    def inside(self, z: np.ndarray, where: str) -> np.ndarray | float:
        return ~self._over(z) if self.clips(where) else 1.0

    def _over(self, z: np.ndarray) -> np.ndarray:
        return np.abs(z) >= self.clip * (1 - 2.0 ** -25)


@pytest.mark.parametrize("reading,point", [("cell", "cs"), ("gates", "pre")])
def test_a_value_at_the_clip_may_fall_on_either_side_of_it(reading: str, point: str) -> None:
    """A clip 2^-26 above one of the oracle's values, relative (an eighth of a float32 unit in the
    last place): there a correct float32 implementation's value may round over it and take the other
    branch, the clipped value forward and the zero derivative backward. Its run and its gradients
    both stay within the bounds."""
    case = Case(2, 3, 4, steps=2)
    params, xs, h0, c0 = case.arrays()
    gh, gc = case.loss_weights()
    clip = float(abs(getattr(reference.lstm_forward(params, xs, h0, c0), point)[0, 0, 0])) * (1 + 2.0 ** -26)
    oracle = reference.Variant(clip=clip, clip_reading=reading)
    rounding_over = RoundsOver(clip=clip, clip_reading=reading)
    got, want = (reference.lstm_forward(params, xs, h0, c0, variant=v) for v in (rounding_over, oracle))
    bounds = forward_bounds(params, xs, h0, c0, "float32", "ieee", oracle)
    for name in ("hs", "cs"):
        off = np.abs(getattr(got, name) - getattr(want, name))
        assert (off <= getattr(bounds, name)).all(), f"{name}: off by {off.max():.3g}, beyond the bound"
    got, want = (dict(reference.lstm_backward(params, xs, h0, c0, gh, gc, variant=v).items())
                 for v in (rounding_over, oracle))
    moved = 0.0
    for name, bound in gradient_bounds(params, xs, h0, c0, gh, gc, "float32", "ieee", oracle).items():
        off = np.abs(got[name] - want[name])
        moved = max(moved, off.max() / np.abs(want[name]).max())
        assert (off <= bound).all(), f"dL/d{name}: off by {off.max():.3g}, beyond its bound {bound.max():.3g}"
    assert moved > 1e-3, "rounding over the clip changed no gradient: the case does not test it"
