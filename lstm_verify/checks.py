"""Assertion helpers whose messages read like the law they check.

Each names the quantity, what was expected, what came, where, and the
implementation, dtype, precision, shapes and case, so a failure can be reproduced by
pasting the case back (``Case(...).arrays()``). They hide themselves from tracebacks.

Every comparison also records what it saw (:func:`observations`): the shapes it ran at
and, for :func:`assert_close`, the worst ``|got - want| / bound`` and how many of the values
it compared had a *loose* bound, one at least as wide as the largest ``|want|`` of their
array, so a report can say which sizes were covered, how close to its error bound an
implementation came, and where a bound was too wide to tell a right value from a wrong one
of the same size (low precisions over long recurrences).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from lstm_verify.expected import Expected


class LawViolation(AssertionError):
    """A property's law does not hold for the implementation under test."""


class KitError(RuntimeError):
    """The kit itself computed something unusable (a NaN expectation, an infinite bound): a bug
    of the kit, never a verdict on the implementation."""


@dataclass
class Observations:
    """What the comparisons of one check saw: the (B, I, H, T) shapes of its cases, the
    worst ratio of an error to its bound, the values compared and those of them whose bound
    was loose (``bound >= max |want|`` over their array: any value of the array's size passes)."""

    sizes: set[tuple[int, int, int, int]] = field(default_factory=set)
    worst: float = 0.0
    compared: int = 0
    loose: int = 0
    law: str = ""
    """The law being checked (named by the kit's own errors)."""
    expected: Sequence[Expected] = ()
    """The expected failures in force for this check (:mod:`lstm_verify.expected`)."""
    absorbed: list[str] = field(default_factory=list)
    """The violations an expected failure matched: recorded, and the law went on."""


_SEEN = Observations()


def observations(law: str = "", expected: Sequence[Expected] = ()) -> Observations:
    """What was seen since the last call, and start afresh for the check of ``law`` with the
    ``expected`` failures in force (the plugin calls it per check)."""
    global _SEEN
    seen, _SEEN = _SEEN, Observations(law=law, expected=tuple(expected))
    return seen


def sizes_covered(sizes: set[tuple[int, int, int, int]]) -> str:
    """The ranges of (B, I, H, T) in ``sizes``: ``'B 1-256, I 1-1024, H 1-1024, T 1-1000 (14 shapes)'``."""
    if not sizes:
        return ""
    ranges = ", ".join(f"{axis} {min(v)}-{max(v)}" if min(v) != max(v) else f"{axis} {min(v)}"
                       for axis, v in zip("BIHT", zip(*sizes)))
    return f"{ranges} ({len(sizes)} shape{'s' if len(sizes) > 1 else ''})"


def _note_size(context: Any) -> None:
    for item in context if isinstance(context, tuple) else (context,):
        case = getattr(item, "case", item)
        if all(hasattr(case, a) for a in ("batch", "input_size", "hidden_size", "steps")):
            _SEEN.sizes.add((case.batch, case.input_size, case.hidden_size, case.steps))


def _where(impl: Any, context: Any) -> str:
    _note_size(context)
    where = f"[{impl.id}; {context!r}]" if context is not None else f"[{impl.id}]"
    explanation = getattr(impl, "explanation", None)
    return f"{where} (known difference: {explanation})" if explanation else where


def check(condition: bool, message: str, impl: Any, context: Any = None) -> None:
    """Raise :class:`LawViolation` with ``message`` unless ``condition`` holds, or, when an
    expected failure in force matches the violation, record it and let the law go on."""
    __tracebackhide__ = True
    _note_size(context)
    if not condition:
        violation = f"{message} {_where(impl, context)}"
        if any(e.matches_violation(violation) for e in _SEEN.expected):
            _SEEN.absorbed.append(violation)
            return
        raise LawViolation(violation)


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


def assert_close(name: str, got: np.ndarray, want: np.ndarray, bound: np.ndarray, impl: Any,
                 context: Any = None) -> None:
    """``|got - want| <= bound`` elementwise, ``bound`` from :mod:`lstm_verify.error_model` for the
    implementation's dtype and precision."""
    __tracebackhide__ = True
    want = np.asarray(want, np.float64)
    bound = np.broadcast_to(np.asarray(bound, np.float64), want.shape)
    _refuse_unusable(name, want, bound)
    assert_shape(name, got, want.shape, impl, context)
    got = np.asarray(got, np.float64)
    assert_finite(name, got, impl, context)
    diff = np.abs(got - want)
    if not diff.size:
        return
    ratio = np.divide(diff, bound, out=np.where(diff > 0, np.inf, 0.0), where=bound > 0)
    k = int(np.argmax(ratio))
    _SEEN.worst = max(_SEEN.worst, float(ratio.flat[k]))
    scale = float(np.max(np.abs(want)))
    _SEEN.compared += diff.size
    _SEEN.loose += int(np.count_nonzero(bound >= scale)) if scale > 0 else 0
    if ratio.flat[k] > 1.0:
        idx = tuple(int(i) for i in np.unravel_index(k, want.shape))
        check(False, f"{name}{list(idx)}={got[idx]:.17g}, but should be {want[idx]:.17g} +- {bound[idx]:.3g} "
                     f"(|diff| = {diff[idx]:.3g} is {ratio[idx]:.3g} x the error bound of {impl.dtype} at precision "
                     f"{impl.precision}; {int((ratio > 1).sum())} of {ratio.size} values off)", impl, context)


def _refuse_unusable(name: str, want: np.ndarray, bound: np.ndarray) -> None:
    """A comparison with a non-finite expectation or bound checks nothing: it is the kit's error."""
    for what, values in (("expected value", want), ("error bound", bound)):
        bad = ~np.isfinite(values)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise KitError(f"{_SEEN.law or 'a law'}: the {what} of {name}{list(idx)} is {values[idx]!r} "
                           f"({int(bad.sum())} of {values.size} non-finite): a comparison with it would check "
                           f"nothing, so the kit refuses it (a bug of the kit or of the law's case, not of the "
                           f"implementation)")


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
