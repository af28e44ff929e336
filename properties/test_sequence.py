"""Sequence laws: what users of a sequence API rely on besides agreement."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lstm_verify import reference
from lstm_verify.agreement import as_stack, reference_run, row_references
from lstm_verify.checks import assert_close, assert_identical
from lstm_verify.params import Case, StackCase
from lstm_verify.strategies import SEQUENCE_SHAPES, SHAPES, cases


@pytest.mark.requires("sequence")
@given(case=cases(steps=(3, 8)), split=st.floats(0.1, 0.9))
def test_streaming_equals_whole(impl, case, split):
    """A sequence run in two chunks, (h, c) carried from the first into the second, equals the
    reference's run over the whole sequence.

    This is the O(1)-per-step streaming inference users rely on; an implementation that
    drops or resets the state it is handed breaks it."""
    params, xs, h0, c0 = impl.arrays(case)
    k = max(1, min(case.steps - 1, round(split * case.steps)))
    want, bound = reference_run(impl, case)
    first, (h_mid, c_mid) = impl.run(params, xs[:k], h0, c0)
    second, (_, c_end) = impl.run(params, xs[k:], h_mid, c_mid)
    context = (case, f"split after step {k}")
    assert_close("hs (chunked)", np.concatenate([first, second]), want.hs, bound.hs, impl, context)
    assert_close("c_T (chunked)", c_end, want.cs[-1], bound.cs[-1], impl, context)


@pytest.mark.requires("sequence")
@given(case=cases(steps=(3, 8)))
def test_cell_loop_equals_sequence(impl, case):
    """Looping the implementation's own step over a sequence and its sequence API both equal
    the reference's run.

    A library's fused sequence kernel and its step are two code paths; a converter or a
    custom kernel often gets one of them right."""
    params, xs, h0, c0 = impl.arrays(case)
    model = impl.load(params)
    want, bound = reference_run(impl, case)
    hs, (_, c) = model.sequence(*impl.cast(xs), tuple(impl.cast(h0, c0)))
    loop_hs, (_, loop_c) = impl.loop(model, xs, tuple(impl.cast(h0, c0)))
    for name, got_hs, got_c in (("step loop", loop_hs, loop_c), ("sequence API", hs, c)):
        assert_close(f"hs ({name})", got_hs, want.hs, bound.hs, impl, case)
        assert_close(f"c_T ({name})", got_c, want.cs[-1], bound.cs[-1], impl, case)


DETERMINISM_SHAPE = SEQUENCE_SHAPES[4]
"""(128, 65, 65): a size the sequence ladder law runs over three steps too (one compile for both)."""


def test_deterministic(impl):
    """The same inputs give bit-identical outputs twice (on CPU).

    Dropout left on at inference, uninitialised memory or a race in a custom kernel make
    results irreproducible, and every other comparison meaningless. Not a hypothesis test:
    hypothesis replays a failing example, and a non-deterministic implementation fails
    differently each time; fixed cases instead, one per shape of the menu and one of the size
    ladder with 24,960 outputs per run (a dropout of 1 % left on changed none of the menu's 126
    outputs in 21 of 200 trials, none of 200 with the ladder's case)."""
    for k, (batch, input_size, hidden_size) in enumerate(SHAPES + (DETERMINISM_SHAPE,)):
        case = Case(batch, input_size, hidden_size, steps=3, seed=k)
        params, xs, h0, c0 = impl.arrays(case)
        hs, (_, c) = impl.run(params, xs, h0, c0)
        again, (_, c_again) = impl.run(params, xs, h0, c0)
        assert_identical("hs (second run)", again, hs, impl, case)
        assert_identical("c_T (second run)", c_again, c, impl, case)


def _directions(impl) -> tuple[int, ...]:
    return (1, 2) if impl.capabilities.bidirectional else (1,)


@pytest.mark.requires("sequence", "lengths")
@given(case=cases(steps=(3, 8)), data=st.data())
def test_variable_lengths(impl, case, data):
    """A right-padded batch with per-row lengths gives every row what the reference gives that row
    alone at its own length: the outputs up to that length, and the final state taken at the
    row's own last step (for a backward direction: the row's valid steps read back to front).

    Packed sequences, masks and ``seq_lengths`` are code paths of their own; padding that is
    read, or a final state taken at the padded end, changes every padded row's result."""
    directions = data.draw(st.sampled_from(_directions(impl)), label="directions")
    lengths = np.array(data.draw(st.lists(st.integers(1, case.steps), min_size=case.batch, max_size=case.batch),
                                 label="lengths"))
    layers, xs, h0, c0 = as_stack(case, directions)
    xs = np.where(np.arange(case.steps)[:, None, None] < lengths[None, :, None], xs, 9.0)  # loud padding
    # one direction: a plain load, states (B, H); two: a stack, states (D, B, H)
    model, state, axis = ((impl.load(layers[0][0]), (h0[0], c0[0]), 0) if directions == 1 else
                          (impl.load_stack(layers), (h0, c0), 1))
    context = (case if directions == 1 else StackCase(case, directions=2), f"lengths={lengths.tolist()}")
    hs, (h, c) = model.sequence(*impl.cast(xs), tuple(impl.cast(*state)), lengths=lengths)
    rows = row_references(impl, layers, xs, h0, c0, lengths)
    for b, (n, ((want_hs, want_h, want_c), (bound_hs, bound_h, bound_c))) in enumerate(zip(lengths, rows)):
        assert_close(f"hs[:{n}, {b}] (row {b}, length {n})", hs[:n, b], want_hs[:, 0], bound_hs[:, 0], impl, context)
        for name, got, want, bound in (("h", h, want_h, bound_h), ("c", c, want_c, bound_c)):
            shape = np.take(got, b, axis).shape  # (H,) for one direction, (D, H) for two
            assert_close(f"final {name} of row {b} (length {n})", np.take(got, b, axis),
                         want[:, 0].reshape(shape), bound[:, 0].reshape(shape), impl, context)


@pytest.mark.requires("sequence", "reverse")
@given(case=cases(steps=(3, 8)))
def test_reverse_equals_forward_on_reversed_input(impl, case):
    """Run in reverse, the LSTM equals the reference's forward run over the time-reversed input,
    with the outputs given back in input time order (hs[t] is the output on consuming xs[t]).

    Reverse mode is the backward half of every bidirectional layer; libraries differ in the
    order they return its outputs, and an adapter or converter that guesses wrong passes
    every forward check."""
    params, xs, h0, c0 = impl.arrays(case)
    want, bound = impl.expected(params, xs[::-1], h0, c0)
    hs, (h, c) = impl.load(params).sequence(*impl.cast(xs), tuple(impl.cast(h0, c0)), reverse=True)
    assert_close("hs (reverse, input time order)", hs, want.hs[::-1], bound.hs[::-1], impl, case)
    assert_close("final h (reverse)", h, want.hs[-1], bound.hs[-1], impl, case)
    assert_close("final c (reverse)", c, want.cs[-1], bound.cs[-1], impl, case)


def _check_stack(impl, stack: StackCase) -> None:
    layers, xs, h0, c0 = stack.arrays()
    hs, (h, c) = impl.load_stack(layers).sequence(*impl.cast(xs), tuple(impl.cast(h0, c0)))
    want_hs, want_h, want_c = reference.stack_forward(layers, xs, h0, c0, impl.variant)
    bound_hs, bound_h, bound_c = impl.stack_bounds(layers, xs, h0, c0)
    names = "[forward | backward]" if stack.directions == 2 else ""
    assert_close(f"outputs {names}".strip(), hs, want_hs, bound_hs, impl, stack)
    assert_close("h_n (layer * D + direction)", h, want_h, bound_h, impl, stack)
    assert_close("c_n (layer * D + direction)", c, want_c, bound_c, impl, stack)


@pytest.mark.requires("sequence", "bidirectional")
@given(case=cases(steps=(1, 4)))
def test_bidirectional(impl, case):
    """A bidirectional layer's outputs are [forward | backward] on the feature axis, the backward
    half in input time order and equal to the LSTM over the time-reversed input; final states
    come forward first.

    Concatenation order, re-reversing the backward outputs and the order of h_n are where
    bidirectional ports and converters go wrong, and every forward-only check misses them."""
    _check_stack(impl, StackCase(case, directions=2))


@pytest.mark.requires("sequence", "layers")
@given(case=cases(steps=(1, 4)), layers=st.integers(2, 3), data=st.data())
def test_stack_equals_composed_layers(impl, case, layers, data):
    """A stack of L layers equals composing L single layers, layer l reading layer l - 1's
    outputs, each from its own non-zero initial state (input size != hidden size).

    Multi-layer bugs -- every layer started from layer 0's state, the wrong layer's weights,
    states that start at zero whatever is passed -- pass tests that start from zero states."""
    _check_stack(impl, StackCase(case, layers, data.draw(st.sampled_from(_directions(impl)), label="directions")))


@pytest.mark.requires("sequence", "projection")
@given(case=cases(steps=(1, 4)), data=st.data())
def test_projection(impl, case, data):
    """With an output projection (torch ``proj_size`` P < H), h = W_hr (o * tanh c) at every step:
    the outputs and the recurrent state are the projected h, of size P, and c keeps size H.

    The projection is a matrix product after the output gate; applied elsewhere, skipped on the
    recurrent path, or taken from the wrong layer, it changes every step after the first."""
    layers = data.draw(st.sampled_from((1, 2) if impl.capabilities.layers else (1,)), label="layers")
    proj_size = data.draw(st.integers(1, case.hidden_size - 1), label="proj_size")
    _check_stack(impl, StackCase(case, layers, data.draw(st.sampled_from(_directions(impl)), label="directions"),
                                 proj_size))
