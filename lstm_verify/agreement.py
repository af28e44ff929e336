"""The agreement checks several laws share: an implementation's step, sequence and gradients
against the reference, each within its error bound (:mod:`lstm_verify.error_model`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from lstm_verify import reference
from lstm_verify.checks import assert_close
from lstm_verify.implementation import Implementation
from lstm_verify.params import Case


def step_agrees(impl: Implementation, case: Case) -> None:
    """One step of ``case`` from its non-zero state gives the reference's (h, c)."""
    __tracebackhide__ = True
    params, xs, h0, c0 = case.arrays()
    want_h, want_c = reference.lstm_step(params, xs[0], h0, c0, variant=impl.variant)
    bound_h, bound_c = impl.step_bounds(params, xs[0], h0, c0)
    h, c = impl.load(params).step(*impl.cast(xs[0]), tuple(impl.cast(h0, c0)))
    assert_close("h", h, want_h, bound_h, impl, case)
    assert_close("c", c, want_c, bound_c, impl, case)


def sequence_agrees(impl: Implementation, case: Case, chunk: int | None = None) -> None:
    """The run over ``case`` (the sequence API where there is one) gives the reference's h_t and
    c_T; with ``chunk``, fed in chunks of that many steps, (h, c) carried from one to the next."""
    __tracebackhide__ = True
    params, xs, h0, c0 = case.arrays()
    want = reference.lstm_forward(params, xs, h0, c0, variant=impl.variant)
    bound = impl.forward_bounds(params, xs, h0, c0)
    pieces, state = [], (h0, c0)
    for start in range(0, case.steps, chunk or case.steps):
        hs, state = impl.run(params, xs[start:start + (chunk or case.steps)], *state)
        pieces.append(hs)
    context: Any = (case, f"chunk={chunk}") if chunk else case
    streamed = " (streamed)" if chunk else ""
    assert_close(f"hs{streamed}", np.concatenate(pieces), want.hs, bound.hs, impl, context)
    assert_close(f"c_T{streamed}", state[1], want.cs[-1], bound.cs[-1], impl, context)


def gradients_agree(impl: Implementation, case: Case) -> None:
    """Gradients of ``sum_t <gh_t, h_t> + <gc, c_T>`` over ``case`` with respect to the inputs, the
    initial state and every parameter give the reference's BPTT."""
    __tracebackhide__ = True
    params, xs, h0, c0 = case.arrays()
    gh, gc = case.loss_weights()
    want = reference.lstm_backward(params, xs, h0, c0, gh, gc)
    bounds = impl.gradient_bounds(params, xs, h0, c0, gh, gc)
    got = impl.grads(params, xs, h0, c0, gh, gc)
    for (name, g), (_, w), (_, bound) in zip(got.items(), want.items(), bounds.items()):
        assert_close(f"dL/d{name}", g, w, bound, impl, case)
