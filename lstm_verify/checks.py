"""Assertion helpers whose messages read like the law they check.

Each names the quantity, what was expected, what came, where, and the
implementation, dtype, shapes and case, so a failure can be reproduced by pasting
the case back (``Case(...).arrays()``). They hide themselves from tracebacks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstm_verify.tolerances import tolerance


class LawViolation(AssertionError):
    """A property's law does not hold for the implementation under test."""


def _where(impl: Any, context: Any) -> str:
    return f"[{impl.id}; {context!r}]" if context is not None else f"[{impl.id}]"


def check(condition: bool, message: str, impl: Any, context: Any = None) -> None:
    """Raise :class:`LawViolation` with ``message`` unless ``condition`` holds."""
    __tracebackhide__ = True
    if not condition:
        raise LawViolation(f"{message} {_where(impl, context)}")


def assert_shape(name: str, got: np.ndarray, want: tuple[int, ...], impl: Any, context: Any = None) -> None:
    __tracebackhide__ = True
    got_shape = tuple(np.shape(got))
    check(got_shape == tuple(want), f"{name}.shape={got_shape}, but should be {tuple(want)}", impl, context)


def assert_dtype(name: str, got: np.ndarray, want: str, impl: Any, context: Any = None) -> None:
    __tracebackhide__ = True
    got_dtype = np.asarray(got).dtype
    check(got_dtype == np.dtype(want), f"{name}.dtype={got_dtype}, but should be {want} (dtype in = dtype out)",
          impl, context)


def assert_finite(name: str, got: np.ndarray, impl: Any, context: Any = None) -> None:
    __tracebackhide__ = True
    got = np.asarray(got)
    bad = ~np.isfinite(got)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        check(False, f"{name} has {int(bad.sum())} non-finite values, first {name}{list(idx)}={got[idx].item()!r}; "
                     f"should be finite", impl, context)


def assert_close(name: str, got: np.ndarray, want: np.ndarray, quantity: str, steps: int, impl: Any,
                 context: Any = None) -> None:
    """``|got - want| <= tol * (1 + |want|)`` elementwise, ``tol`` from the central table."""
    __tracebackhide__ = True
    want = np.asarray(want, np.float64)
    assert_shape(name, got, want.shape, impl, context)
    got = np.asarray(got, np.float64)
    assert_finite(name, got, impl, context)
    tol = tolerance(impl.dtype, quantity, steps)
    excess = np.abs(got - want) / (1.0 + np.abs(want))
    if excess.size and excess.max() > tol:
        idx = tuple(int(i) for i in np.unravel_index(np.argmax(excess), excess.shape))
        check(False, f"{name}{list(idx)}={got[idx]:.17g}, but should be {want[idx]:.17g} "
                     f"(|diff|/(1+|ref|)={excess[idx]:.3g} > tol {tol:.3g} for {quantity} in {impl.dtype} "
                     f"after {steps} step(s); {int((excess > tol).sum())} of {excess.size} values off)",
              impl, context)


def assert_identical(name: str, got: np.ndarray, want: np.ndarray, impl: Any, context: Any = None) -> None:
    """Bit-for-bit equality (same shape, same values)."""
    __tracebackhide__ = True
    want = np.asarray(want)
    assert_shape(name, got, want.shape, impl, context)
    got = np.asarray(got)
    differ = got != want
    if differ.any():
        idx = tuple(int(i) for i in np.argwhere(differ)[0])
        check(False, f"{name}{list(idx)}={got[idx].item()!r}, but should be exactly {want[idx].item()!r} "
                     f"({int(differ.sum())} of {want.size} values differ)", impl, context)
