"""Layouts: the named ones match their libraries' documented storage, and round-trip."""

import numpy as np
import pytest

from lstm_verify.layouts import KNOWN, ONNX, TF1, WRONG_ORDERS, Layout
from lstm_verify.params import Case, StackCase


@pytest.fixture
def params():
    return Case(1, 3, 2, seed=5).arrays()[0]


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_round_trip_is_identity(name, params):
    layout = KNOWN[name]
    back = layout.from_native(layout.to_native(params), params.input_size)
    np.testing.assert_array_equal(back.w_ih, params.w_ih)
    np.testing.assert_array_equal(back.w_hh, params.w_hh)
    np.testing.assert_allclose(back.bias, params.bias, rtol=0, atol=1e-15)


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


def test_random_split_keeps_the_sum_and_changes_both(params):
    native = KNOWN["torch"].to_native(params, rng=np.random.default_rng(0))
    np.testing.assert_allclose(native["b_ih"] + native["b_hh"], params.bias, atol=1e-15)
    assert not np.allclose(native["b_ih"], params.b_ih) and not np.allclose(native["b_hh"], params.b_hh)


def test_there_are_23_wrong_orders():
    assert len(WRONG_ORDERS) == len(set(WRONG_ORDERS)) == 23


def test_gate_order_must_be_a_permutation():
    with pytest.raises(ValueError):
        Layout("bad", gate_order="iffo")
