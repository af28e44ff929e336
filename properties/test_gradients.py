"""Gradient agreement with the reference's BPTT."""

from hypothesis import given
import pytest

from lstm_verify.agreement import gradients_agree
from lstm_verify.strategies import cases


@pytest.mark.requires("gradients")
@given(case=cases())
def test_gradients_agree_with_bptt(impl, case):
    """Gradients of a scalar loss over a sequence with respect to the inputs, the initial
    (h, c) and every parameter match the reference's BPTT within the error bound of the
    implementation's dtype and precision.

    A cell can be exact forward and wrong backward: a hand-written backward with a sign
    or a missing term, a detached carry, a bias gradient counted once. Training would
    then quietly optimise something else."""
    gradients_agree(impl, case)
