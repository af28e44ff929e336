"""Agreement with the float64 reference on hypothesis-drawn shapes, weights and states."""

from hypothesis import given

from lstm_verify import reference
from lstm_verify.checks import assert_close
from lstm_verify.strategies import cases


@given(case=cases(steps=(1,)))
def test_step_agrees_with_reference(impl, case):
    """One step from a non-zero state gives the reference's (h, c) within the error bound of the
    implementation's dtype and precision.

    This is the drop-in claim itself: same parameters, same inputs, same numbers. Weights
    differ per gate and input size differs from hidden size, so a permuted or transposed
    block, a dropped bias or a wrong readout cannot pass."""
    params, xs, h0, c0 = case.arrays()
    want_h, want_c = reference.lstm_step(params, xs[0], h0, c0, variant=impl.variant)
    bound_h, bound_c = impl.step_bounds(params, xs[0], h0, c0)
    h, c = impl.load(params).step(*impl.cast(xs[0]), tuple(impl.cast(h0, c0)))
    assert_close("h", h, want_h, bound_h, impl, case)
    assert_close("c", c, want_c, bound_c, impl, case)


@given(case=cases())
def test_sequence_agrees_with_reference(impl, case):
    """Over a sequence (the library's sequence API where it has one), every h_t and the final
    c_T match the reference, within an error bound that follows the recurrence.

    Errors that are invisible in one step (a state carried wrongly, a reset between steps)
    show only over several."""
    params, xs, h0, c0 = case.arrays()
    want = reference.lstm_forward(params, xs, h0, c0, variant=impl.variant)
    bound = impl.forward_bounds(params, xs, h0, c0)
    hs, (_, c) = impl.run(params, xs, h0, c0)
    assert_close("hs", hs, want.hs, bound.hs, impl, case)
    assert_close("c_T", c, want.cs[-1], bound.cs[-1], impl, case)
