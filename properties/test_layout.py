"""Layout laws: loading parameters into the native layout loses nothing."""

from dataclasses import replace

import numpy as np
from hypothesis import given

from lstm_verify.checks import assert_identical, check
from lstm_verify.strategies import cases


@given(case=cases(steps=(1,)))
def test_layout_round_trip(impl, case):
    """canonical -> native -> canonical is the identity for the adapter's declared layout
    (peepholes included), and splitting the bias at random between two native vectors keeps
    their sum.

    Every other property loads parameters through this map; if it lost or moved a
    value, a disagreement would be blamed on the implementation."""
    layout = impl.adapter.layout
    params = replace(case.arrays()[0], p=case.peepholes())
    for rng in (None, np.random.default_rng(case.seed)):
        back = layout.from_native(layout.to_native(params, np.float64, rng), params.input_size)
        assert_identical("w_ih", back.w_ih, params.w_ih, impl, case)
        assert_identical("w_hh", back.w_hh, params.w_hh, impl, case)
        assert_identical("p (peepholes)", back.p, params.p, impl, case)
        slack = 8 * np.finfo(np.float64).eps * (1 + np.abs(params.bias) + abs(layout.forget_offset))
        check(bool(np.all(np.abs(back.bias - params.bias) <= slack)),
              f"bias after the {layout.name} round trip differs from the canonical bias by "
              f"{np.abs(back.bias - params.bias).max():.3g}, more than 8 ulp", impl, case)
