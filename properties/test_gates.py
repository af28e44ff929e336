"""Gate laws, observed from outside through the probes of :mod:`lstm_verify.probes`.

They read sigmoid gates and a tanh candidate, so they need the plain cell (``sigmoid_tanh``): an
ONNX model with other activations, clip, peepholes or coupled gates skips them."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lstm_verify.checks import assert_close, check
from lstm_verify.dtypes import unit_roundoff
from lstm_verify.error_model import activation_allowance, precision
from lstm_verify.probes import (ACTIVATIONS, activation_grid, exact_activation, probe_all, probe_bound,
                                probe_cell_activation, probe_gate)
from lstm_verify.reference import PLAIN
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
        assert_close(f"gate {gate}", value, exact_activation(ACTIVATIONS[gate], z), probe_bound(impl, gate, z), impl,
                     f"probe z={z.tolist()}")


ACTIVATION_READS = (("sigmoid", "i", PLAIN.f), ("tanh", "g", PLAIN.g), ("h(c), tanh", None, PLAIN.h))
"""What the activation law reads: the activation, the gate probe that exposes it (None: the cell
state's, :func:`lstm_verify.probes.probe_cell_activation`) and the function."""


@pytest.mark.requires("sigmoid_tanh")
def test_activations_accurate(impl):
    """Read through one step with zero weights (sigmoid through the input gate, tanh through the
    candidate and through h(c)), every activation lies within its allowance of the exact value at
    512 stored points spanning every argument where it still differs from its limits in the storage
    format (:func:`~lstm_verify.probes.activation_grid`: [-38, 38] for sigmoid and [-20, 20] for tanh
    in float64, [-18, 18] and [-10, 10] in float32): its own error by dtype and argument
    (:data:`~lstm_verify.error_model.OWN_ULPS`, 2 to 11 units of the storage format's rounding,
    absolute below 1), and more only where the implementation declares approximate activations.

    Every agreement law's error bound allows an activation that much and no more. An
    approximation off by more (a polynomial, a table, a clamp set too early) hides where random
    cases rarely land, near saturation or in one narrow range, and the bounds the kit computes
    for it would then be false; a grid this dense finds an approximation off over a range. An
    isolated unlucky rounding between its points it can miss: the allowances come from millions of
    arguments per library, not from this grid."""
    declared = precision(impl.precision)
    if declared.int8 == "full":
        pytest.skip(f"{impl.id} declares {impl.precision}: its activations are int8 tables and its biases int8 "
                    "at calibrated steps, so no probe reads an activation alone; the agreement laws hold them")
    operands = declared.operands
    for name, gate, fn in ACTIVATION_READS:
        z = activation_grid(fn, impl.dtype, operands)
        got = probe_gate(impl, gate, z) if gate else probe_cell_activation(impl, z)
        want = exact_activation(fn, z)
        allowance = activation_allowance(fn, z, want, impl.dtype, impl.precision)
        k = int(np.argmax(np.abs(np.asarray(got, np.float64) - want) / allowance))
        assert_close(name, got, want, allowance, impl, f"probe: {name} at z = {z[k]!r} (the worst of "
                     f"activation_grid({fn.name}, {impl.dtype!r}, {operands!r}), its index above)")
