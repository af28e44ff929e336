"""The agreement checks several laws share: an implementation's step, sequence and gradients
against the reference, each within its error bound (:mod:`lstm_verify.error_model`).

The reference's results and the bounds depend only on the case (and the dtype, precision and
variant), not on the implementation, and a derandomized run draws the same cases for every
implementation of a law: a worker computes each once, keeping a whole ladder of cases for
every dtype (the ladder's largest cases cost more in the reference and the error model than in
most implementations; a cache smaller than the ladder, scanned in order, would never hit)."""

from __future__ import annotations

from dataclasses import fields, replace
from functools import lru_cache
from typing import Any

import numpy as np

from lstm_verify import error_model, reference
from lstm_verify.checks import assert_close
from lstm_verify.implementation import Implementation
from lstm_verify.params import Case, Grads, Params
from lstm_verify.reference import Variant


@lru_cache(maxsize=64)
def _arrays(case: Case, peepholes: bool = False) -> tuple[Params, np.ndarray, np.ndarray, np.ndarray]:
    """``case.arrays()`` (with the case's peepholes when asked), read-only: implementations get
    copies (:meth:`Implementation.cast`)."""
    params, *states = case.arrays()
    params = replace(params, p=case.peepholes()) if peepholes else params
    for a in (*(getattr(params, f.name) for f in fields(params)), *states):
        if a is not None:
            a.flags.writeable = False
    return (params, *states)


def _impl_arrays(impl: Implementation, case: Case) -> tuple[Params, np.ndarray, np.ndarray, np.ndarray]:
    """:meth:`Implementation.arrays`, read-only and computed once."""
    return _arrays(case, impl.variant.peepholes)


@lru_cache(maxsize=64)
def _forward(case: Case, variant: Variant, steps: int) -> reference.Trace:
    params, xs, h0, c0 = _arrays(case, variant.peepholes)
    return reference.lstm_forward(params, xs[:steps], h0, c0, variant=variant)


@lru_cache(maxsize=256)
def _forward_bounds(case: Case, dtype: str, precision: str, variant: Variant, steps: int
                    ) -> error_model.ForwardBounds:
    params, xs, h0, c0 = _arrays(case, variant.peepholes)
    return error_model.forward_bounds(params, xs[:steps], h0, c0, dtype, precision, variant)


@lru_cache(maxsize=16)
def _backward(case: Case, variant: Variant) -> Grads:
    params, xs, h0, c0 = _arrays(case, variant.peepholes)
    return reference.lstm_backward(params, xs, h0, c0, *case.loss_weights(), variant=variant)


@lru_cache(maxsize=64)
def _gradient_bounds(case: Case, dtype: str, precision: str, variant: Variant) -> Grads:
    params, xs, h0, c0 = _arrays(case, variant.peepholes)
    return error_model.gradient_bounds(params, xs, h0, c0, *case.loss_weights(), dtype, precision, variant)


def reference_run(impl: Implementation, case: Case, steps: int | None = None
                  ) -> tuple[reference.Trace, error_model.ForwardBounds]:
    """The reference's run over ``case`` (its first ``steps`` steps) in ``impl``'s variant, and how
    far ``impl`` may be from it at its dtype and precision (both computed once per worker)."""
    steps = case.steps if steps is None else min(steps, case.steps)
    return (_forward(case, impl.variant, steps),
            _forward_bounds(case, impl.dtype, impl.precision, impl.variant, steps))


Expected = dict[str, tuple[np.ndarray, np.ndarray]]
"""What outputs must agree with: ``{name: (the reference's value, its error bound)}``."""


def step_expected(impl: Implementation, case: Case) -> Expected:
    """The reference's (h, c) after one step of ``case`` from its non-zero state."""
    want, bound = reference_run(impl, case, steps=1)
    return {"h": (want.hs[0], bound.hs[0]), "c": (want.cs[0], bound.cs[0])}


def sequence_expected(impl: Implementation, case: Case) -> Expected:
    """The reference's h_t (``hs``) and ``c_T`` over ``case``."""
    want, bound = reference_run(impl, case)
    return {"hs": (want.hs, bound.hs), "c_T": (want.cs[-1], bound.cs[-1])}


def gradients_expected(impl: Implementation, case: Case) -> Expected:
    """The reference's BPTT over ``case``: ``dL/d<name>`` for the inputs, the initial state and
    every parameter (the peepholes too, where the variant has them), L = ``sum_t <gh_t, h_t> + <gc, c_T>``
    with ``case.loss_weights()``."""
    bounds = dict(_gradient_bounds(case, impl.dtype, impl.precision, impl.variant).items())
    return {f"dL/d{name}": (want, bounds[name]) for name, want in _backward(case, impl.variant).items()}


def outputs_agree(got: dict[str, np.ndarray], expected: Expected, impl: Implementation, context: Any,
                  suffix: str = "") -> None:
    """Each expected output is in ``got`` under its name and within its bound of the reference's
    (a :class:`~lstm_verify.checks.LawViolation` names the first that is not: its name + ``suffix``)."""
    __tracebackhide__ = True
    for name, (want, bound) in expected.items():
        assert_close(name + suffix, got[name], want, bound, impl, context)


def step_results(impl: Implementation, case: Case) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """One step of ``case`` from its non-zero state: ``(name, got, want, bound)`` for h and c."""
    params, xs, h0, c0 = _impl_arrays(impl, case)
    expected = step_expected(impl, case)
    h, c = impl.load(params).step(*impl.cast(xs[0]), tuple(impl.cast(h0, c0)))
    return [("h", h, *expected["h"]), ("c", c, *expected["c"])]


def step_agrees(impl: Implementation, case: Case) -> None:
    """One step of ``case`` from its non-zero state gives the reference's (h, c)."""
    __tracebackhide__ = True
    for name, got, want, bound in step_results(impl, case):
        assert_close(name, got, want, bound, impl, case)


def sequence_agrees(impl: Implementation, case: Case, chunk: int | None = None) -> None:
    """The run over ``case`` (the sequence API where there is one) gives the reference's h_t and
    c_T; with ``chunk``, fed in chunks of that many steps, (h, c) carried from one to the next."""
    __tracebackhide__ = True
    params, xs, h0, c0 = _impl_arrays(impl, case)
    expected = sequence_expected(impl, case)
    pieces, state = [], (h0, c0)
    for start in range(0, case.steps, chunk or case.steps):
        hs, state = impl.run(params, xs[start:start + (chunk or case.steps)], *state)
        pieces.append(hs)
    context: Any = (case, f"chunk={chunk}") if chunk else case
    outputs_agree({"hs": np.concatenate(pieces), "c_T": state[1]}, expected, impl, context,
                  " (streamed)" if chunk else "")


def gradients_agree(impl: Implementation, case: Case) -> None:
    """Gradients of ``sum_t <gh_t, h_t> + <gc, c_T>`` over ``case`` with respect to the inputs, the
    initial state and every parameter give the reference's BPTT."""
    __tracebackhide__ = True
    params, xs, h0, c0 = _impl_arrays(impl, case)
    got = impl.grads(params, xs, h0, c0, *case.loss_weights())
    outputs_agree({f"dL/d{name}": g for name, g in got.items()}, gradients_expected(impl, case), impl, case)


def forget() -> None:
    """Drop every reference run and bound computed so far (the bench does after each of its
    shapes: large cases, not checked again)."""
    for cached in (_arrays, _forward, _forward_bounds, _backward, _gradient_bounds):
        cached.cache_clear()


def as_stack(case: Case, directions: int) -> tuple[list[list[Params]], np.ndarray, np.ndarray, np.ndarray]:
    """``case`` as one layer of ``directions``: (layers, xs, h0 (D, B, H), c0 (D, B, H)); one
    direction is ``case.arrays()`` itself."""
    if directions == 1:
        params, xs, h0, c0 = case.arrays()
        return [[params]], xs, h0[None], c0[None]
    return case.stack(directions=directions)


def row_references(impl: Implementation, layers: list[list[Params]], xs: np.ndarray, h0: np.ndarray,
                   c0: np.ndarray, lengths: np.ndarray | None) -> list[tuple[tuple, tuple]]:
    """Per batch row, the reference's run over that row alone at its own length (all of ``xs``
    without ``lengths``) and its error bounds: ``((hs (n, 1, D*H), h_n, c_n), (bounds of the same))``,
    states (D, 1, H), each cell ``impl``'s variant."""
    ends = lengths if lengths is not None else [len(xs)] * xs.shape[1]
    rows = [(xs[:n, b:b + 1], h0[:, b:b + 1], c0[:, b:b + 1]) for b, n in enumerate(ends)]
    return [(reference.stack_forward(layers, *row, impl.variant), impl.stack_bounds(layers, *row)) for row in rows]

