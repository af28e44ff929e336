"""A TensorFlow cell converted to ONNX by tf2onnx (``tf2onnx.convert.from_function``) and run by
onnxruntime: ``--kind tf-step --via tf2onnx`` (a user's step) and the built-in column
``tf-block-via-tf2onnx`` (the fused ``LSTMBlockCell`` of :mod:`lstm_verify.adapters.tf_block`).

The cell is scanned over time (``tf.scan``) in a ``tf.function`` whose inputs are xs (T, B, I), h0,
c0 and the native parameters, so the converted graph takes the parameters under test and any T
and B; it is converted once per (dtype, variant, parameter shapes), and kept in the cache folder
for other workers and later runs (:func:`~lstm_verify.cache.cached_conversion`).

tf2onnx 1.17.0 emits no ONNX ``LSTM`` node for it. Its LSTM rewriters match an ``LSTMBlockCell``
in a TF1 while loop of ``Enter`` frames with constant weights (``rewriter/lstm_rewriter.py``, which
also declines ``cell_clip`` and peepholes: "current LSTM op cannot handle clip") or the body of
Keras' TF2 LSTM (``rewriter/lstm_tf2_rewriter.py``); here the scan becomes an ONNX ``Loop`` whose
body is the cell written out op by op by the ``LSTMBlockCell`` handler (``onnx_opset/rnn.py``:
Concat, MatMul, Split, Sigmoid, Tanh, Clip on the cell state). ``BlockLSTM`` has no handler: tf2onnx
logs "Unsupported ops" and leaves TensorFlow's op in the ONNX graph, which no runtime runs. The handler writes its
constants (``forget_bias``, the zero peepholes) in float32, so a float16 cell converts to a graph
onnxruntime refuses: that dtype skips with onnxruntime's message.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf2onnx  # noqa: E402

from lstm_verify.adapters.base import Adapter, Capabilities, Model, SequenceModel, State  # noqa: E402
from lstm_verify.adapters.tf_block import TfBlockAdapter, attributes  # noqa: E402
from lstm_verify.adapters.tf_step import CPU, converted_capabilities, step_cell  # noqa: E402
from lstm_verify.cache import cached_conversion  # noqa: E402
from lstm_verify.dtypes import numpy_dtype  # noqa: E402
from lstm_verify.layouts import TF1, Layout, Native  # noqa: E402
from lstm_verify.params import Params  # noqa: E402
from lstm_verify.reference import Variant  # noqa: E402

Cell = Callable[[dict, tf.Tensor, tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]
"""``cell(params by native name, x, h, c) -> (h, c)`` on TF tensors."""
CONVERTED_DTYPES = ("float16", "float32", "float64")
"""The dtypes a converted graph may hold (onnxruntime has no bfloat16 Sigmoid or Tanh on the CPU)."""


def convert(cell: Cell, native: Native, hidden: int, dtype: str) -> onnx.ModelProto:
    """``cell`` scanned over time, converted by tf2onnx: inputs ``xs``, ``h0``, ``c0`` and the
    native parameters by name; outputs hs (T, B, H), h_T, c_T."""
    keys = tuple(native)

    def run(xs: tf.Tensor, h0: tf.Tensor, c0: tf.Tensor, *values: tf.Tensor) -> tuple:
        params = dict(zip(keys, values))
        hs, cs = tf.scan(lambda state, x: tuple(cell(params, x, *state)), xs, initializer=(h0, c0))
        return hs, hs[-1], cs[-1]

    element = tf.as_dtype(numpy_dtype(dtype))
    signature = [tf.TensorSpec([None, None, None], element, name="xs"),
                 *(tf.TensorSpec([None, hidden], element, name=n) for n in ("h0", "c0")),
                 *(tf.TensorSpec(v.shape, element, name=k) for k, v in native.items())]
    with tf.device(CPU):
        model, _ = tf2onnx.convert.from_function(tf.function(run), input_signature=signature)
    return model


Run = Callable[[dict[str, np.ndarray]], list[np.ndarray]]


class Tf2OnnxModel(SequenceModel):
    """The converted graph of one (dtype, variant, shapes), fed the native parameters."""

    def __init__(self, run: Run, native: Native) -> None:
        self.run, self.native = run, native

    def sequence(self, xs: np.ndarray, state: State | None = None, *, lengths: np.ndarray | None = None,
                 reverse: bool = False) -> tuple[np.ndarray, State]:
        if lengths is not None or reverse or state is None:
            raise NotImplementedError("the converted scan takes neither lengths nor a reverse mode, and needs a state")
        hs, h, c = self.run({"xs": xs, "h0": state[0], "c0": state[1], **self.native})
        return hs, (h, c)


class Tf2OnnxAdapter(Adapter):
    """``cell_for(variant)`` (a :data:`Cell` on the layout's native parameters) scanned, converted by
    tf2onnx and run by onnxruntime on the CPU, one thread."""

    requires = ("tensorflow", "tf2onnx", "onnx", "onnxruntime")

    def __init__(self, cell_for: Callable[[Variant], Cell], name: str, layout: Layout,
                 capabilities: Capabilities, code: tuple[object, ...] = ()) -> None:
        self.cell_for, self.name, self.layout, self.capabilities = cell_for, name, layout, capabilities
        self.code = code
        """The code ``cell_for`` runs besides this module and the adapter's class (a TARGET's step),
        for :func:`~lstm_verify.cache.cached_conversion`."""
        self._runs: dict[tuple, Run] = {}
        self._refusals: dict[str, str | None] = {}

    def version(self) -> str:
        return f"tensorflow {tf.__version__}, tf2onnx {tf2onnx.__version__}, onnxruntime {onnxruntime.__version__}"

    def precision(self, dtype: str) -> str:
        """onnxruntime's MLAS Sigmoid and Tanh (see :mod:`lstm_verify.adapters.onnxruntime_lstm`)."""
        return "approximate-activations"

    def session(self, native: Native, dtype: str, variant: Variant) -> Run:
        """The converted graph's session for these parameter shapes, converted once."""
        key = (dtype, variant, tuple((k, v.shape) for k, v in native.items()))
        if key not in self._runs:
            cell, hidden = self.cell_for(variant), self.layout.sizes(native)[1]
            model = cached_conversion((type(self).__qualname__, key, self.version(), onnx.__version__),
                                      lambda: convert(cell, native, hidden, dtype).SerializeToString(),
                                      (__name__, type(self), *self.code))
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = options.inter_op_num_threads = 1
            options.log_severity_level = 3
            session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
            self._runs[key] = lambda feeds: session.run(None, feeds)
        return self._runs[key]

    def unsupported(self, dtype: str) -> str | None:
        """onnxruntime's refusal of the graph converted at ``dtype`` (one input, one unit), if any;
        asked once per dtype (a refused graph is not kept, so asking again would build it again)."""
        if dtype not in self.capabilities.dtypes:
            return super().unsupported(dtype)
        if dtype not in self._refusals:
            self._refusals[dtype] = self._refusal(dtype)
        return self._refusals[dtype]

    def _refusal(self, dtype: str) -> str | None:
        native = {k: v.astype(numpy_dtype(dtype)) for k, v in self.layout.to_native(Params.zeros(1, 1)).items()}
        try:
            self.session(native, dtype, self.capabilities.variant)
        except onnxruntime.capi.onnxruntime_pybind11_state.Fail as exc:
            message = re.sub(r" in node \([^)]*\)", "", str(exc).splitlines()[0])  # the node's name counts up
            return f"onnxruntime refuses the graph tf2onnx converts at {dtype}: {message}"
        return None

    def load(self, native: Native, dtype: str) -> Model:
        return self.load_variant(native, dtype, self.capabilities.variant)

    def load_variant(self, native: Native, dtype: str, variant: Variant) -> Model:
        return Tf2OnnxModel(self.session(native, dtype, variant), native)


def step_adapter(step: Callable, name: str, layout: Layout, capabilities: Capabilities) -> Tf2OnnxAdapter:
    """``--kind tf-step --via tf2onnx``: the user's ``step(params, x, (h, c))``, params named by
    :data:`~lstm_verify.layouts.TARGET_NAMES`, with the capabilities it declared that a converted
    scan keeps (its dtypes that a graph may hold)."""
    cell = step_cell(step)
    return Tf2OnnxAdapter(lambda variant: cell, f"{name}-via-tf2onnx", layout,
                          converted_capabilities(capabilities, CONVERTED_DTYPES), (step,))


def block_cell(variant: Variant) -> Cell:
    """``tf.raw_ops.LSTMBlockCell`` with ``variant``'s peepholes and ``cell_clip``, ``forget_bias`` the
    tf1 layout's."""
    def cell(params: dict, x: tf.Tensor, h: tf.Tensor, c: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        zeros = tf.zeros_like(params["b"][:tf.shape(h)[1]])
        wci, wcf, wco = tf.split(params["p"], 3) if variant.peepholes else (zeros,) * 3
        out = tf.raw_ops.LSTMBlockCell(x=x, cs_prev=c, h_prev=h, w=params["w"], wci=wci, wcf=wcf, wco=wco,
                                       b=params["b"], **attributes(TF1.forget_offset, variant))
        return out.h, out.cs
    return cell


class TfBlockViaTf2Onnx(Tf2OnnxAdapter, TfBlockAdapter):
    """The built-in column ``tf-block-via-tf2onnx``: tf-block's ``LSTMBlockCell`` (its variants,
    dtypes and known differences) through tf2onnx and onnxruntime."""

    name = "tf-block-via-tf2onnx"
    clip_source = "tf2onnx's LSTMBlockCell handler, onnx_opset/rnn.py: Clip on cs before o's peephole and tanh"

    def __init__(self) -> None:
        caps = replace(TfBlockAdapter.capabilities, gradients=False, training=False)
        super().__init__(block_cell, self.name, TF1, caps)

