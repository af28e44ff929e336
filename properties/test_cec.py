"""The constant-error carousel, exactly: f = 1 and i = 0 carry the cell bit for bit.

Saturating biases make f = 1 and i = 0 only through sigmoid gates without clip or peepholes,
so these laws need the plain cell (``sigmoid_tanh``)."""

import numpy as np
import pytest
from hypothesis import given

from lstm_verify.checks import assert_identical
from lstm_verify.strategies import cases

SATURATE = 1e4
"""sigmoid(+1e4) is exactly 1 and sigmoid(-1e4) exactly 0 in every float format."""


LARGE = 40.0
"""The carousel's c_0 is the case's times LARGE, tens in magnitude: the carousel carries any value,
and a cell that bounds its state (TensorFlow Lite's fused LSTM clips it at 10) breaks the law."""


def _carousel(case):
    params, xs, h0, c0 = case.arrays()
    return params.with_gate_biases(f=SATURATE, i=-SATURATE), xs, h0, LARGE * c0


@pytest.mark.requires("sigmoid_tanh")
@given(case=cases(steps=(25, 60)))
def test_exact_cec_carry(impl, case):
    """With the forget gate exactly 1 and the input gate exactly 0 (random weights, saturating
    biases), c_T equals c_0 bit for bit after many steps, whatever the inputs and however large c_0.

    This is the LSTM's reason to exist: the additive update c' = f*c + i*g with f = 1, i = 0
    is the identity, so memory is kept exactly. A cell that rescales, clips or rounds c
    on the way breaks it."""
    params, xs, h0, c0 = _carousel(case)
    _, (_, c) = impl.run(params, xs, h0, c0)
    assert_identical("c_T", c, impl.cast(c0)[0], impl, case)


@pytest.mark.requires("gradients", "sigmoid_tanh")
@given(case=cases(steps=(25, 60)))
def test_exact_cec_jacobian(impl, case):
    """With f = 1 and i = 0 exactly, the Jacobian dc_T/dc_0 is exactly the identity.

    The backward twin of the carry: error flows back through the carousel undamped. A
    detached carry, a wrong hand-written backward or a NaN from a saturated gate's
    derivative shows here."""
    params, xs, h0, c0 = _carousel(case)
    hidden = case.hidden_size
    # H copies of the first sample; row b's loss weight e_b makes dL/dc0[b] row b of the Jacobian
    rows = np.repeat(xs[:, :1], hidden, axis=1), np.repeat(h0[:1], hidden, axis=0), np.repeat(c0[:1], hidden, axis=0)
    gh = np.zeros((case.steps, hidden, hidden))
    grads = impl.grads(params, *rows, gh, np.eye(hidden))
    assert_identical("dc_T/dc_0", grads.c0, np.eye(hidden), impl, case)
