"""Gate laws, observed from outside through the probes of :mod:`lstm_verify.probes`.

They read sigmoid gates and a tanh candidate, so they need the plain cell (``sigmoid_tanh``): an
ONNX model with other activations, clip, peepholes or coupled gates skips them."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lstm_verify.checks import assert_close, check
from lstm_verify.dtypes import unit_roundoff
from lstm_verify.probes import ACTIVATIONS, probe_all, probe_bound
from lstm_verify.strategies import preactivations

MODERATE = 4.0
"""Up to here every float32 gate is strictly inside its open range. Measured float32
saturation points (first z where the value is exactly 1): tanh 7.999 in XLA (JAX), 9.01 in
torch, 10.0 in NumPy; sigmoid 16.6 in torch and JAX. Hard sigmoids saturate by |z| = 3
(torch hardsigmoid), 2.5 (slope 0.2) or 2 (slope 0.25), so 4 still catches them."""


def strict_limit(dtype: str) -> float:
    """The |z| up to which a gate is strictly inside its range in ``dtype``: :data:`MODERATE`, or
    less where the format rounds tanh(z) to 1 sooner (tanh(z) < 1 - 4u: 3.47 in float16, 2.42 in
    bfloat16, where a hard sigmoid of slope 0.2 saturating at 2.5 can no longer be told apart)."""
    return min(MODERATE, float(np.arctanh(1.0 - 4.0 * unit_roundoff(dtype))))


@pytest.mark.requires("sigmoid_tanh")
@given(moderate=preactivations(6, 1.0), huge=preactivations(6, 1e4))
def test_gate_ranges(impl, moderate, huge):
    """For any pre-activation, i, f, o lie in [0, 1] and g in [-1, 1]; for |z| <= 4 (less in
    half formats, :func:`strict_limit`) they lie strictly inside, (0, 1) and (-1, 1).

    The ranges are what make the gates switches and the candidate bounded. A gate that
    reaches 0 or 1 at a finite, moderate input (a piecewise-linear "hard" sigmoid) is not
    the LSTM's gate: it kills the gradient through it."""
    for z, strict in ((moderate * strict_limit(impl.dtype), True), (huge, False)):
        for gate, value in probe_all(impl, z).items():
            low = -1.0 if gate == "g" else 0.0
            inside = (value > low) & (value < 1.0) if strict else (value >= low) & (value <= 1.0)
            bad = np.flatnonzero(~inside)
            interval = f"({low:g}, 1)" if strict else f"[{low:g}, 1]"
            check(bad.size == 0, f"gate {gate} at pre-activation {z[bad[0]] if bad.size else 0:.17g} is "
                                 f"{value[bad[0]] if bad.size else 0:.17g}, but should be in {interval}",
                  impl, f"probe z={z.tolist()}")


nonzero = st.floats(0.5, 4.0) | st.floats(-4.0, -0.5)


@pytest.mark.requires("sigmoid_tanh")
@given(z=st.lists(nonzero, min_size=4, max_size=4).map(np.array))
def test_gate_order(impl, z):
    """Driving one gate's bias at a time (zero weights), the value read from (h, c) is
    sigmoid(z) for i, f, o and tanh(z) for g: the implementation stores the four gate
    blocks in the order its layout declares.

    Weights that are the same for every gate cannot tell a permuted block from the right
    one; driving the gates one by one can, for every one of the 23 wrong orders."""
    for gate, value in probe_all(impl, z).items():
        assert_close(f"gate {gate}", value, ACTIVATIONS[gate](z), probe_bound(impl, gate, z), impl,
                     f"probe z={z.tolist()}")
