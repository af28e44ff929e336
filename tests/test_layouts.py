"""Layouts: the named ones match their libraries' documented storage, and round-trip.

The round trip is the kit's own code, run before every law: it is checked here for every named
``--layout`` and every built-in adapter's layout, and shown to fail on broken twins."""

from dataclasses import replace

import numpy as np
import pytest

from lstm_verify.adapters import BUILTIN, MissingAdapter, builtin_adapter
from lstm_verify.adapters.numpy_lstm import NUMPY
from lstm_verify.layouts import KNOWN, ONNX, TF1, WRONG_ORDERS, Layout
from lstm_verify.params import Case, StackCase

ROUND_TRIP_CASES = (Case(1, 1, 1, seed=0), Case(2, 3, 5, seed=1), Case(3, 7, 4, seed=2, weight_scale=30.0))
"""Shapes where I < H, I > H and I = H = 1, and biases large enough that an offset's rounding shows."""


@pytest.fixture
def params():
    return Case(1, 3, 2, seed=5).arrays()[0]


def assert_round_trip(layout: Layout) -> None:
    """canonical -> native -> canonical is the identity for ``layout`` (peepholes included), and
    splitting the bias at random between two native vectors keeps their sum (to 8 ulp)."""
    __tracebackhide__ = True
    for case in ROUND_TRIP_CASES:
        params = replace(case.arrays()[0], p=case.peepholes())
        for rng in (None, np.random.default_rng(case.seed)):
            back = layout.from_native(layout.to_native(params, np.float64, rng), params.input_size)
            where = f"{layout.name} round trip, {case!r}, {'a random' if rng else 'no'} bias split"
            for name in ("w_ih", "w_hh", "p"):
                np.testing.assert_array_equal(getattr(back, name), getattr(params, name), err_msg=f"{name}: {where}")
            slack = 8 * np.finfo(np.float64).eps * (1 + np.abs(params.bias) + abs(layout.forget_offset))
            off = np.abs(back.bias - params.bias)
            assert np.all(off <= slack), f"bias off by {off.max():.3g}, more than 8 ulp: {where}"


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_named_layout_round_trips(name):
    assert_round_trip(KNOWN[name])


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_builtin_adapter_layout_round_trips(name):
    """Every law loads its parameters through this map: if it lost or moved a value, a disagreement
    would be blamed on the implementation."""
    adapter = builtin_adapter(name)
    if isinstance(adapter, MissingAdapter):
        pytest.skip(adapter.reason)
    assert_round_trip(adapter.layout)


class ForgetOffsetLost(Layout):
    """The way back forgets to add the run-time forget-gate constant."""

    def from_native(self, native, input_size):
        p = super().from_native(native, input_size)
        return p.with_gate_biases(f=p.b_ih[p.hidden_size:2 * p.hidden_size] - self.forget_offset)


class PeepholesLeftInNativeOrder(Layout):
    """The way back forgets to put the peepholes back in the canonical order."""

    def from_native(self, native, input_size):
        return replace(super().from_native(native, input_size), p=native.get("p"))


class UnbalancedSplit(Layout):
    """The way in adds the random shift to ``b_ih`` and forgets to take it from ``b_hh``."""

    def to_native(self, p, dtype=np.float64, rng=None):
        native = super().to_native(p, dtype, rng)
        if rng is not None:
            native["b_hh"] = np.asarray(self._blocks(p.b_hh, self._perm), dtype)
        return native


class WeightsTransposedOneWay(Layout):
    """Stores the recurrent weight transposed on the way in only (square when I = H)."""

    def to_native(self, p, dtype=np.float64, rng=None):
        return super().to_native(replace(p, w_hh=p.w_hh.reshape(4, p.hidden_size, -1).transpose(0, 2, 1)
                                          .reshape(p.w_hh.shape)), dtype, rng)


BROKEN = [
    (ForgetOffsetLost("tf1-like", gate_order="igfo", transposed=True, fused="xh", biases=1, forget_offset=1.0),
     "bias off by 1"),
    (PeepholesLeftInNativeOrder("onnx-like", gate_order="iofg"), "p: onnx-like"),
    (UnbalancedSplit("torch-like"), "bias off by .*a random bias split"),
    (WeightsTransposedOneWay("torch-like"), "w_hh: torch-like"),
]


@pytest.mark.parametrize("layout,match", BROKEN, ids=[type(layout).__name__ for layout, _ in BROKEN])
def test_round_trip_catches_a_broken_layout(layout, match):
    with pytest.raises(AssertionError, match=match):
        assert_round_trip(layout)


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_round_trip_keeps_a_projection(name):
    """w_hr (P, H) travels with the layer (transposed where the layout transposes)."""
    p = StackCase(Case(1, 3, 4, seed=5), proj_size=2).arrays()[0][0][0]
    back = KNOWN[name].from_native(KNOWN[name].to_native(p), p.input_size)
    np.testing.assert_array_equal(back.w_hr, p.w_hr)
    np.testing.assert_array_equal(back.w_hh, p.w_hh)


def test_onnx_blocks_are_i_o_f_c(params):
    native = ONNX.to_native(params)
    h = params.hidden_size
    for native_block, canonical_block in enumerate([0, 3, 1, 2]):
        np.testing.assert_array_equal(native["w_ih"][native_block * h:(native_block + 1) * h],
                                      params.w_ih[canonical_block * h:(canonical_block + 1) * h])


def test_tf1_kernel_is_fused_transposed_with_forget_offset(params):
    native = TF1.to_native(params)
    h, i = params.hidden_size, params.input_size
    assert native["w"].shape == (i + h, 4 * h)
    # TF1 block order i, j(=g), f, o; forget block is native block 2
    np.testing.assert_array_equal(native["w"][:i, 2 * h:3 * h], params.w_ih[h:2 * h].T)
    np.testing.assert_allclose(native["b"][2 * h:3 * h], params.bias[h:2 * h] - 1.0)


def test_numpy_adapter_stacks_x_over_h_with_the_sigmoid_gates_first(params):
    """The numpy adapter's one weight (I + H, 4H) over [x, h], blocks i, f, o, g, and one bias."""
    native = NUMPY.to_native(params)
    h, i = params.hidden_size, params.input_size
    assert sorted(native) == ["b", "w"] and native["w"].shape == (i + h, 4 * h)
    np.testing.assert_array_equal(native["w"][:i, 2 * h:3 * h], params.w_ih[3 * h:].T)
    np.testing.assert_array_equal(native["w"][i:, 3 * h:], params.w_hh[2 * h:3 * h].T)
    np.testing.assert_array_equal(native["b"][2 * h:3 * h], params.bias[3 * h:])


def test_random_split_keeps_the_sum_and_changes_both(params):
    native = KNOWN["torch"].to_native(params, rng=np.random.default_rng(0))
    np.testing.assert_allclose(native["b_ih"] + native["b_hh"], params.bias, atol=1e-15)
    assert not np.allclose(native["b_ih"], params.b_ih) and not np.allclose(native["b_hh"], params.b_hh)


def test_there_are_23_wrong_orders():
    assert len(WRONG_ORDERS) == len(set(WRONG_ORDERS)) == 23


def test_gate_order_must_be_a_permutation():
    with pytest.raises(ValueError):
        Layout("bad", gate_order="iffo")
