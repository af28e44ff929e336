"""TensorFlow as a target: ``--kind tf-step`` traced once per shape, and the ``tf-block`` adapter's
ops held to what TensorFlow's source says they compute."""

from functools import partial

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import properties  # noqa: E402
from lstm_verify.adapters.tf_step import TfStepAdapter  # noqa: E402
from lstm_verify.checks import LawViolation  # noqa: E402
from lstm_verify.implementation import Implementation, implementation  # noqa: E402
from lstm_verify.layouts import TF1, TF1_FB0  # noqa: E402
from lstm_verify.params import Case  # noqa: E402
from lstm_verify.reference import Variant  # noqa: E402
from properties.test_variants import check_variant  # noqa: E402
from tests.catalogue import Entry  # noqa: E402
from lstm_verify.targets import adapter_for  # noqa: E402
from tests.catalogue.tf_steps import CELL_CLIP, block_step, cell_clip_block_step  # noqa: E402

PROPERTIES = properties.collect()


def _gradients(impl, case: Case) -> None:
    params, xs, h0, c0 = case.arrays()
    rng = np.random.default_rng(case.seed)
    impl.grads(params, xs, h0, c0, rng.normal(size=xs.shape[:2] + h0.shape[-1:]), rng.normal(size=c0.shape))


def test_tf_step_traces_once_per_shape_and_dtype_whatever_the_sequence_length():
    """The step and its pullback are traced once per (B, I, H, dtype): the gradient laws draw 1 to
    1000 steps, and a trace per length would cost a trace per draw."""
    adapter = Entry("tf_steps.py:step", "tf-step").implementation().adapter
    traces = lambda: (adapter.fns.step.experimental_get_tracing_count(),  # noqa: E731
                      adapter.fns.pullback.experimental_get_tracing_count())
    for dtype, steps in (("float32", 4), ("float32", 1), ("float32", 9), ("float64", 3), ("float64", 7)):
        _gradients(Implementation(adapter, dtype), Case(batch=2, input_size=3, hidden_size=4, steps=steps))
    assert traces() == (2, 2)
    _gradients(Implementation(adapter, "float32"), Case(batch=2, input_size=3, hidden_size=5, steps=6))
    assert traces() == (3, 3)


@pytest.mark.parametrize("layout", (TF1, TF1_FB0), ids=lambda layout: layout.name)
def test_fused_layouts_are_what_tensorflow_computes_at_their_forget_bias(layout, unshrunk):
    """``BlockLSTM(forget_bias=F)`` holding a kernel in ``tf1`` (F = 1) or ``tf1-fb0`` (F = 0)
    storage computes the reference's cell: the layouts pin TensorFlow's gate blocks and offset."""
    step = partial(block_step, forget_bias=layout.forget_offset)
    impl = Implementation(TfStepAdapter(step, layout.name, layout), "float32")
    for law in ("test_gate_order", "test_step_agrees_with_reference"):
        PROPERTIES[law](impl=impl)


@pytest.mark.parametrize("clip", (0.5, 1.0, 2.5))
@pytest.mark.parametrize("peepholes", (False, True))
def test_tf_block_cell_clip_clips_the_cell_state(clip, peepholes):
    """``cell_clip`` is the ``cell`` reading of clip (the known difference tf-block declares for the
    specification's): with weights large enough for it to bite, the ops agree with the reference
    clipping the cell state, and not with the specification's reading."""
    impl = implementation("tf-block", "float32")
    for seed in range(3):
        case = Case(batch=2, input_size=3, hidden_size=4, steps=5, seed=seed, weight_scale=3.0)
        check_variant(impl, case, Variant(peepholes=peepholes, clip=clip, clip_reading="cell"), reverse=False)
    with pytest.raises(LawViolation, match="clip_reading='spec'"):
        check_variant(impl, case, Variant(peepholes=peepholes, clip=clip), reverse=False)


def test_a_cell_clip_target_passes_as_the_variant_it_computes_and_fails_as_plain(unshrunk):
    """``BlockLSTM(cell_clip=1)`` as a tf-step declaring nothing: checked with ``--variant
    clip=1:cell`` (TensorFlow clips the cell state) it passes the step and clip laws; checked as the
    plain LSTM, or with the specification's reading of clip, it fails."""
    def impl(variant):
        return Implementation(adapter_for(cell_clip_block_step, "tf-step", "tf1", variant=variant), "float32")
    for law in ("test_step_agrees_with_reference", "test_clip_agrees_with_reference"):
        PROPERTIES[law](impl=impl(f"clip={CELL_CLIP:g}:cell"))
    with pytest.raises(LawViolation, match=r"^[hc]\[.*cell_clip_block_step"):
        PROPERTIES["test_step_agrees_with_reference"](impl=impl(None))
    with pytest.raises(LawViolation):
        PROPERTIES["test_clip_agrees_with_reference"](impl=impl(f"clip={CELL_CLIP:g}"))


@pytest.mark.parametrize("dtype", ("float64", "bfloat16"))
def test_tf_block_skips_the_dtypes_tensorflow_refuses_with_its_message(dtype):
    assert implementation("tf-block", dtype).skip_reason() == (
        f"tf.raw_ops.LSTMBlockCell: Value for attr 'T' of {'double' if dtype == 'float64' else dtype} is not in the "
        "list of allowed values: half, float")


def _op_types(graph) -> set[str]:
    """Every node's op type in ``graph`` and in the graphs its nodes hold (a Loop's body)."""
    found = set()
    for node in graph.node:
        found.add(node.op_type)
        for attribute in node.attribute:
            if attribute.g.node:
                found |= _op_types(attribute.g)
    return found


def test_tf2onnx_writes_the_block_cell_as_a_loop_of_its_ops_and_refuses_block_lstm():
    """What tf2onnx 1.17.0 emits for the tf-block-via-tf2onnx column: an ONNX Loop whose body is
    LSTMBlockCell op by op (onnx_opset/rnn.py), no LSTM node; the fused BlockLSTM has no handler
    (tf2onnx logs "Unsupported ops" and leaves TensorFlow's op in the ONNX graph)."""
    tf = pytest.importorskip("tf2onnx") and __import__("tensorflow")
    from lstm_verify.adapters.tf2onnx_lstm import block_cell, convert
    from lstm_verify.params import Params
    from lstm_verify.reference import PLAIN

    native = {k: v.astype(np.float32) for k, v in TF1.to_native(Params.zeros(2, 3)).items()}
    ops = _op_types(convert(block_cell(PLAIN), native, 3, "float32").graph)
    assert "Loop" in ops and {"MatMul", "Sigmoid", "Tanh"} <= ops and "LSTM" not in ops, ops

    def fused(params, x, h, c):
        zeros = tf.zeros_like(params["b"][:3])
        out = tf.raw_ops.BlockLSTM(seq_len_max=tf.constant(1, tf.int64), x=x[None], cs_prev=c, h_prev=h,
                                   w=params["w"], wci=zeros, wcf=zeros, wco=zeros, b=params["b"])
        return out.h[0], out.cs[0]
    assert "BlockLSTM" in _op_types(convert(fused, native, 3, "float32").graph)  # left as TF's op


def test_tf_step_via_tf2onnx_checks_the_converted_step(unshrunk):
    """``--kind tf-step --via tf2onnx``: a correct step passes through the converter, one whose
    gates use the wrong activation fails, in the converted graph."""
    pytest.importorskip("tf2onnx")
    import tensorflow as tf

    from lstm_verify.targets import adapter_for
    from tests.catalogue.tf_steps import step

    good = adapter_for(step, "tf-step", via="tf2onnx")
    assert good.name == "step-via-tf2onnx" and not good.capabilities.gradients
    PROPERTIES["test_sequence_agrees_with_reference"](impl=Implementation(good, "float32"))
    bad = adapter_for(partial(step, sigmoid=tf.tanh), "tf-step", name="tanh_gates", via="tf2onnx")
    with pytest.raises(LawViolation):
        PROPERTIES["test_sequence_agrees_with_reference"](impl=Implementation(bad, "float32"))
