"""Saturation: huge pre-activations over long sequences stay finite and bounded.

The bounds |h| <= 1 and |c_T| <= |c_0| + T hold for sigmoid gates and tanh candidate and readout:
the law needs the plain cell (``sigmoid_tanh``)."""

import numpy as np
import pytest
from hypothesis import given

from lstm_verify.checks import assert_finite, check
from lstm_verify.dtypes import unit_roundoff
from lstm_verify.error_model import range_slack
from lstm_verify.strategies import cases


@pytest.mark.requires("sigmoid_tanh", "long_sequences")
@given(case=cases(steps=(200,), weight_scales=(1e4, 1.0)))
def test_saturation_finite_and_bounded(impl, case):
    """With pre-activations around +-1e4 and 200 steps, every h_t is finite with |h_t| <= 1
    (plus what approximate activations may overshoot, for an implementation that declares them),
    and |c_T| <= |c_0| + T (up to one rounding per step: the bound is reached when every gate
    saturates open).

    Gates saturate in real training; a sigmoid or tanh written as exp(x)/(1+exp(x)) gives
    inf/inf = NaN there, and an unsquashed readout gives |h| > 1."""
    params, xs, h0, c0 = impl.arrays(case)
    hs, (_, c) = impl.run(params, xs, h0, c0)
    assert_finite("hs", hs, impl, case)
    assert_finite("c_T", c, impl, case)
    peak = float(np.abs(np.asarray(hs, np.float64)).max())
    slack = 2 * range_slack(impl.precision)  # o and tanh(c), each possibly past 1 by the slack
    allowed = f"1 + {slack:.3g} (precision {impl.precision})" if slack else "1"
    check(peak <= 1.0 + slack, f"max |h_t| = {peak:.17g}, but should be <= {allowed} (h = o * tanh(c))", impl, case)
    # attained exactly when every gate saturates (f = i = g = 1): allow one rounding per step
    bound = (np.abs(c0) + case.steps) * (1 + 2 * case.steps * unit_roundoff(impl.dtype))
    over = np.abs(np.asarray(c, np.float64)) > bound
    check(not over.any(), "|c_T| exceeds |c_0| + T: the cell grew by more than |i*g| <= 1 per step",
          impl, case)
