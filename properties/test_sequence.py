"""Sequence laws: what users of a sequence API rely on besides agreement."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lstm_verify.checks import assert_close, assert_identical
from lstm_verify.params import Case
from lstm_verify.strategies import BATCHES, SIZES, cases


@pytest.mark.requires("sequence")
@given(case=cases(steps=(3, 8)), split=st.floats(0.1, 0.9))
def test_streaming_equals_whole(impl, case, split):
    """A sequence run in two chunks, (h, c) carried from the first into the second, equals the
    sequence run whole.

    This is the O(1)-per-step streaming inference users rely on; an implementation that
    drops or resets the state it is handed breaks it."""
    params, xs, h0, c0 = case.arrays()
    k = max(1, min(case.steps - 1, round(split * case.steps)))
    whole, (_, c_whole) = impl.run(params, xs, h0, c0)
    first, (h_mid, c_mid) = impl.run(params, xs[:k], h0, c0)
    second, (_, c_end) = impl.run(params, xs[k:], h_mid, c_mid)
    assert_close("hs (chunked)", np.concatenate([first, second]), whole, "h", case.steps, impl, case)
    assert_close("c_T (chunked)", c_end, c_whole, "c", case.steps, impl, case)


@pytest.mark.requires("sequence")
@given(case=cases(steps=(3, 8)))
def test_cell_loop_equals_sequence(impl, case):
    """Looping the implementation's own step over a sequence equals its sequence API.

    A library's fused sequence kernel and its step are two code paths; a converter or a
    custom kernel often gets one of them right."""
    params, xs, h0, c0 = case.arrays()
    model = impl.load(params)
    hs, (_, c) = model.sequence(*impl.cast(xs), tuple(impl.cast(h0, c0)))
    loop_hs, (_, loop_c) = impl.loop(model, xs, tuple(impl.cast(h0, c0)))
    assert_close("hs (step loop)", loop_hs, hs, "h", case.steps, impl, case)
    assert_close("c_T (step loop)", loop_c, c, "c", case.steps, impl, case)


def test_deterministic(impl):
    """The same inputs give bit-identical outputs twice (on CPU).

    Dropout left on at inference, uninitialised memory or a race in a custom kernel make
    results irreproducible, and every other comparison meaningless. Not a hypothesis test:
    hypothesis replays a failing example, and a non-deterministic implementation fails
    differently each time; a few fixed cases, one per shape of the menu, instead."""
    for k, (batch, (input_size, hidden_size)) in enumerate(zip(BATCHES, SIZES)):
        case = Case(batch, input_size, hidden_size, steps=3, seed=k)
        params, xs, h0, c0 = case.arrays()
        hs, (_, c) = impl.run(params, xs, h0, c0)
        again, (_, c_again) = impl.run(params, xs, h0, c0)
        assert_identical("hs (second run)", again, hs, impl, case)
        assert_identical("c_T (second run)", c_again, c, impl, case)
