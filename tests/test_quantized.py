"""LiteRT's int8 quantization as a declared precision (``int8-weights``, dynamic range; ``int8``, full
integer calibrated on the case's data): the scales the converter writes are the ones the error model
assumes, a correct quantized model passes at its precision and fails at float32's (the quantization is
far above float32 rounding), and a model dequantized with the wrong scales fails at its precision."""

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")
pytest.importorskip("tensorflow")

from ai_edge_litert.interpreter import Interpreter  # noqa: E402

from lstm_verify import error_model  # noqa: E402
from lstm_verify.adapters.litert_lstm import (FUSED, LiteRtFullInt8Adapter, LiteRtFusedInt8Adapter,  # noqa: E402
                                              LiteRtInt8Adapter, convert_fused, convert_unrolled, invoke)
from lstm_verify.agreement import sequence_agrees  # noqa: E402
from lstm_verify.checks import LawViolation  # noqa: E402
from lstm_verify.error_model import int8_scales, precision  # noqa: E402
from lstm_verify.implementation import Implementation  # noqa: E402
from lstm_verify.params import Case  # noqa: E402
from lstm_verify.reference import lstm_forward  # noqa: E402
from tests.catalogue import Entry  # noqa: E402

CASE = Case(batch=2, input_size=40, hidden_size=32, steps=4, seed=1)
"""Large enough for every weight tensor of both forms to be quantized (the fused op's 32 x 32 gate matrices: 1024)."""


@pytest.mark.parametrize("adapter,batch,input_size,hidden", (
    (LiteRtInt8Adapter(), 2, 16, 16), (LiteRtInt8Adapter(), 2, 4, 64), (LiteRtInt8Adapter(), 2, 3, 7),
    (LiteRtFusedInt8Adapter(), 2, 40, 32), (LiteRtFusedInt8Adapter(), 2, 31, 31),
    (LiteRtFusedInt8Adapter(), 2, 64, 24)), ids=lambda v: getattr(v, "name", v))
def test_converter_scales_are_the_error_models(adapter, batch, input_size, hidden):
    """Every int8 tensor the converter wrote is a block of W_ih or W_hh with the scales
    :func:`int8_scales` computes (per output channel, or one per gate matrix), its values within half a
    scale of the weights; the blocks it left float (under 1024 elements; the fused op: all eight unless
    each reaches 1024) are the ones the model leaves float."""
    params = Case(batch, input_size, hidden, seed=3).arrays()[0]
    native = adapter.layout.to_native(params, np.float32, np.random.default_rng(0))
    per = precision(adapter.precision("float32")).int8
    rows = 4 * hidden if per == "channel" else hidden
    expected = {(name, k): (w[k:k + rows], s[k:k + rows]) for name, w, s in
                zip(("w_ih", "w_hh"), (params.w_ih, params.w_hh), int8_scales(params, per))
                for k in range(0, 4 * hidden, rows) if s.any()}
    interpreter = Interpreter(model_content=adapter.build(native, adapter.key(native, batch, "float32"), quantize=True))
    found = set()
    for tensor in interpreter.get_tensor_details():
        if tensor["dtype"] != np.int8:
            continue
        scales = tensor["quantization_parameters"]["scales"]
        values = interpreter.get_tensor(tensor["index"]) * scales[:, None]
        block = [key for key, (w, s) in expected.items() if w.shape == values.shape
                 and np.allclose(np.broadcast_to(scales, s.shape), s, rtol=1e-6, atol=0)
                 and (np.abs(values - w) <= s[:, None] / 2 * (1 + 1e-5)).all()]
        assert len(block) == 1, f"{tensor['name']} {values.shape}: no weight block with the model's scales"
        found.add(block[0])
    assert found == set(expected)


@pytest.mark.parametrize("adapter,case,quantized", (
    (LiteRtInt8Adapter(), Case(2, 4, 7, steps=3, seed=2), False), (LiteRtInt8Adapter(), CASE, True),
    (LiteRtFusedInt8Adapter(), Case(2, 40, 24, steps=3, seed=2), False)), ids=("small", "quantized", "fused-small"))
def test_a_model_with_nothing_quantized_is_served_by_patching_its_marker_conversion(adapter, case, quantized):
    """Where the converter quantizes no weight (every tensor under 1024 elements; the fused op's eight
    unless all reach it), the conversion of marker weights holds every parameter in a float buffer, and
    patched with a case's weights it computes bit for bit what a conversion of those weights computes;
    where it quantizes one, the markers are not all found and each case is converted."""
    params, xs, h0, c0 = case.arrays()
    native = adapter.layout.to_native(params, np.float32, np.random.default_rng(0))
    key = adapter.key(native, case.batch, "float32")
    assert (adapter.program(key).marked == adapter.size(key)) is not quantized
    feeds = {"xs": xs.astype(np.float32), "h": h0.astype(np.float32), "c": c0.astype(np.float32)}

    def run(interpreter: Interpreter) -> list[np.ndarray]:
        hs, (h, c) = adapter.results(interpreter, *invoke(interpreter, feeds))
        return [hs, h, c]
    served, converted = run(adapter.interpreter(native, key)), run(Interpreter(model_content=adapter.build(
        native, key, quantize=True)))
    for got, want in zip(served, converted, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("case", (Case(2, 8, 6, steps=3, seed=1), Case(3, 5, 7, steps=5, seed=4),
                                  Case(1, 16, 12, steps=2, seed=6)), ids=str)
def test_calibrated_steps_are_the_error_models(case, monkeypatch):
    """Every int8 tensor of the full-integer model carries a step the error model rounds to: the
    per-tensor scales are the steps :func:`error_model.forward_bounds` requantizes at (calibrated on
    the case's data, sigmoid's 1/256, tanh's 1/128) and the bias's, and none of those is missing from
    the model; the weights' per-channel scales are :func:`int8_scales`' without the size floor."""
    params, xs, h0, c0 = case.arrays()
    native = LiteRtFullInt8Adapter.layout.to_native(params, np.float32, np.random.default_rng(0))
    interpreter = Interpreter(model_content=convert_unrolled(native, (xs, h0, c0)))
    steps = [error_model.calibrated_step(params.b_ih + params.b_hh)]
    requantize = error_model._int8
    monkeypatch.setattr(error_model, "_int8", lambda a, step: steps.append(step) or requantize(a, step))
    error_model.forward_bounds(params, xs, h0, c0, "float32", "int8")
    weights = np.sort(np.concatenate(error_model.int8_scales(params, "channel", 0)))
    tensors = [t["quantization_parameters"]["scales"] for t in interpreter.get_tensor_details() if t["dtype"] == np.int8]
    channels = np.sort(np.concatenate([s for s in tensors if len(s) > 1]))
    np.testing.assert_allclose(channels, weights, rtol=1e-6)
    carried, modelled = np.unique([s[0] for s in tensors if len(s) == 1]), np.unique(steps)
    unmatched = [s for s in carried if not np.isclose(modelled, s, rtol=1e-5, atol=0).any()]
    unused = [s for s in modelled if not np.isclose(carried, s, rtol=1e-5, atol=0).any()]
    assert not unmatched and not unused, f"model's steps {unmatched} not modelled; modelled steps {unused} not in the model"


@pytest.mark.parametrize("h_scale,c_peak", ((0.0, 0.0), (0.0, 0.3), (1.0, 1.97), (1.0, 3.0)))
def test_fused_full_integer_scales(h_scale, c_peak):
    """The fused op converted to full integer (the case's data as the representative data set) carries
    the scales docs/litert.md states: its eight gate matrices ``max |w| / 127`` each, each gate's int32 bias
    at x's step times its W_ih matrix's scale, x at its calibrated step, the h state at the step calibrated
    over h_0 and every h_t, the hidden intermediate (the step the kernel writes h at) over the h_t alone,
    and the int16 cell state at the power of two at or above max |c| over the states the op starts its
    steps from (c_0 to c_{T-1}: not c_T), over 2^15. The state's and the hidden intermediate's steps agree
    only where h_0's range lies within the outputs' (h_0 = 0)."""
    params, xs, h0, c0 = Case(2, 6, 5, steps=4, seed=1).arrays()
    h0, c0 = h_scale * h0, c_peak * c0 / np.abs(c0).max()
    native = LiteRtFullInt8Adapter.layout.to_native(params, np.float32, np.random.default_rng(0))
    interpreter = Interpreter(model_content=convert_fused(native, 2, data=(xs, h0, c0)))
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    op = next(op for op in interpreter._get_ops_details() if op["op_name"] == FUSED)

    def scales(*k: int) -> np.ndarray:
        return np.array([tensors[op["inputs"][i]]["quantization_parameters"]["scales"][0] for i in k])

    s_ih, s_hh = (s[::5] for s in int8_scales(params, "gate", 0))
    reference = lstm_forward(params, xs, h0, c0)
    x_step, hs, cells = error_model.calibrated_step(xs), reference.hs, np.concatenate([c0[None], reference.cs[:-1]])
    hidden = next(t for t in tensors.values() if t["name"] == "effective_hidden_scale_intermediate")
    cell = 2.0 ** np.ceil(np.log2(np.abs(cells).max())) / 2 ** 15
    np.testing.assert_allclose(scales(1, 2, 3, 4), s_ih, rtol=1e-6)
    np.testing.assert_allclose(scales(5, 6, 7, 8), s_hh, rtol=1e-6)
    np.testing.assert_allclose(scales(12, 13, 14, 15), x_step * s_ih, rtol=1e-5)
    np.testing.assert_allclose(scales(0, 18, 19), [x_step, error_model.calibrated_step(h0, hs), cell], rtol=1e-5)
    np.testing.assert_allclose(hidden["quantization_parameters"]["scales"], [error_model.calibrated_step(hs)], rtol=1e-5)
    assert np.isclose(scales(18)[0], hidden["quantization_parameters"]["scales"][0], rtol=1e-5) == (h_scale == 0)


@pytest.mark.parametrize("adapter", (LiteRtInt8Adapter(), LiteRtFusedInt8Adapter(), LiteRtFullInt8Adapter()),
                         ids=lambda a: a.name)
def test_quantized_models_need_their_precision(adapter):
    """At its declared precision the quantized model agrees with the reference; held to float32's
    bound (``ieee``) it fails: the quantization is far above float32 rounding."""
    impl, name = Implementation(adapter, "float32"), adapter.name
    assert precision(impl.precision).int8
    sequence_agrees(impl, CASE)
    with pytest.raises(LawViolation, match=f"precision ieee;.*{name}-float32"):
        sequence_agrees(Implementation(impl.adapter, "float32", declared_precision="ieee"), CASE)


def test_wrong_scales_fail_at_int8_weights():
    """Every channel dequantized with channel 0's scale (``FirstChannelScale``) fails at int8-weights."""
    impl = Entry("litert_models.py:FirstChannelScale", "adapter", dtype="float32").implementation()
    assert precision(impl.precision).int8 == "channel"
    with pytest.raises(LawViolation, match="first-channel-scale"):
        sequence_agrees(impl, CASE)


def test_wrong_scales_fail_at_int8():
    """The full-integer model with every weight channel dequantized with channel 0's scale
    (``FullInt8FirstChannelScale``) fails at int8."""
    impl = Entry("litert_models.py:FullInt8FirstChannelScale", "adapter", dtype="float32").implementation()
    assert precision(impl.precision).int8 == "full"
    with pytest.raises(LawViolation, match="full-int8-first-channel-scale"):
        sequence_agrees(impl, CASE)
