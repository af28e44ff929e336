"""LiteRT: both converted forms pass the agreement laws, the fused form really is the fused op
(with the cell clip its converter sets), a converted model with two gate biases swapped fails,
and a tf-step TARGET checked through the converter (``--via tflite``) passes or fails as its step does."""

from functools import partial

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")
pytest.importorskip("tensorflow")

import properties  # noqa: E402
from lstm_verify.adapters.litert_lstm import FUSED, LiteRtAdapter, LiteRtFusedAdapter  # noqa: E402
from lstm_verify.checks import LawViolation  # noqa: E402
from lstm_verify.implementation import Implementation, implementation  # noqa: E402
from lstm_verify.targets import adapter_for  # noqa: E402
from tests.catalogue import Entry  # noqa: E402

PROPERTIES = properties.collect()
LAWS = ("test_gate_order", "test_sequence_agrees_with_reference")


@pytest.mark.parametrize("law", LAWS)
def test_laws_catch_a_converted_model_with_swapped_gate_biases(law, unshrunk):
    impl = Entry("litert_models.py:SwappedGateBiases", "adapter", dtype="float32").implementation()
    with pytest.raises(LawViolation, match="swapped-gate-biases"):
        PROPERTIES[law](impl=impl)


@pytest.mark.parametrize("law", LAWS)
@pytest.mark.parametrize("name", ("litert", "litert-fused"))
def test_converted_lstms_pass(name, law):
    PROPERTIES[law](impl=implementation(name, "float32"))


@pytest.mark.parametrize("adapter,op,absent", ((LiteRtAdapter(), "WHILE", FUSED), (LiteRtFusedAdapter(), FUSED, "WHILE")))
def test_each_form_converts_to_its_op(adapter, op, absent):
    """What the converter emitted: the fused form is one UNIDIRECTIONAL_SEQUENCE_LSTM, no loop."""
    native = {"w_ih": np.zeros((2, 12)), "w_hh": np.zeros((3, 12)), "b": np.zeros(12)}
    flatbuffer = adapter.program(adapter.key(native, 2, "float32")).flatbuffer
    from ai_edge_litert.interpreter import Interpreter
    ops = {o["op_name"] for o in Interpreter(model_content=flatbuffer)._get_ops_details()}
    assert op in ops and absent not in ops, ops


def test_fused_op_clips_the_cell_state_at_10():
    """The evidence for litert-fused's known difference: ConvertKerasLSTMLayer sets cell_clip = 10.
    With zero weights and b_f = 30 (f = 1), c_0 = 30 carries to c_1 = 10; the WHILE form carries it."""
    native = {"w_ih": np.zeros((1, 4), np.float32), "w_hh": np.zeros((1, 4), np.float32),
              "b": np.array([0, 30, 0, 0], np.float32)}
    xs, h0, c0 = np.zeros((1, 1, 1), np.float32), np.zeros((1, 1), np.float32), np.full((1, 1), 30, np.float32)
    assert LiteRtFusedAdapter().load(native, "float32").sequence(xs, (h0, c0))[1][1][0, 0] == 10
    assert LiteRtAdapter().load(native, "float32").sequence(xs, (h0, c0))[1][1][0, 0] == 30


def test_float64_is_refused_with_the_converters_message():
    assert "Some ops are not supported by the native TFLite runtime" in implementation("litert", "float64").skip_reason()
    assert "doesn't match function result type" in implementation("litert-fused", "float64").skip_reason()


def test_tf_step_via_tflite_checks_the_converted_step(unshrunk):
    """``--kind tf-step --via tflite``: a correct step passes laws through TFLiteConverter and LiteRT,
    one whose gates use the wrong activation fails them; the dtypes the converter refuses skip with
    its message."""
    import tensorflow as tf

    from tests.catalogue.tf_steps import step

    good = adapter_for(step, "tf-step", via="tflite")
    assert good.name == "step-via-tflite" and not good.capabilities.gradients
    for law in ("test_sequence_agrees_with_reference", "test_gate_order", "test_streaming_equals_whole"):
        PROPERTIES[law](impl=Implementation(good, "float32"))
    assert "Some ops are not supported by the native TFLite runtime" in good.unsupported("float16")
    assert "Unsupported TensorFlow type" in good.unsupported("bfloat16")
    bad = adapter_for(partial(step, sigmoid=tf.tanh), "tf-step", name="tanh_gates", via="tflite")
    with pytest.raises(LawViolation, match="tanh_gates-via-tflite"):
        PROPERTIES["test_sequence_agrees_with_reference"](impl=Implementation(bad, "float32"))
