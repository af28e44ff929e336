"""Agreement with the float64 reference on hypothesis-drawn shapes, weights and states."""

from hypothesis import given

from lstm_verify.agreement import sequence_agrees, step_agrees
from lstm_verify.strategies import cases


@given(case=cases(steps=(1,)))
def test_step_agrees_with_reference(impl, case):
    """One step from a non-zero state gives the reference's (h, c) within the error bound of the
    implementation's dtype and precision.

    This is the drop-in claim itself: same parameters, same inputs, same numbers. Weights
    differ per gate and input size differs from hidden size, so a permuted or transposed
    block, a dropped bias or a wrong readout cannot pass."""
    step_agrees(impl, case)


@given(case=cases())
def test_sequence_agrees_with_reference(impl, case):
    """Over a sequence (the library's sequence API where it has one), every h_t and the final
    c_T match the reference, within an error bound that follows the recurrence.

    Errors that are invisible in one step (a state carried wrongly, a reset between steps)
    show only over several."""
    sequence_agrees(impl, case)
