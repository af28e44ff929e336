"""``keras-tensorflow-via-tf2onnx``: a Keras 3 ``keras.layers.LSTM`` (TensorFlow back end) in a
functional model, converted by ``tf2onnx.convert.from_keras`` and run by onnxruntime (CPU, one
thread): the path of a Keras model deployed as ONNX.

What tf2onnx 1.17.0 makes of it: on the CPU Keras 3 runs the layer as its generic RNN loop (a
``While`` over ``LSTMCell.call``: MatMul, MatMul, Add, BiasAdd, Split, Sigmoid, Tanh, Mul;
keras/src/backend/tensorflow/rnn.py's ``lstm`` serves cuDNN only), which tf2onnx's
``rewriter/lstm_tf2_rewriter.py`` matches (``make_lstm_pattern(from_keras=True, use_bias=True)``
in ``rewriter/rnn_utils.py``) and replaces by one ONNX ``LSTM`` node, its weights reordered from
Keras's gate blocks i, f, c, o to ONNX's i, o, f, c, the bias written as ``Wb`` with a zero ``Rb``;
``go_backwards`` adds a ``ReverseSequence``, a call without a state an ``Expand`` of zeros. The
rewriter needs the weights to be constants (it ``continue``s otherwise) and a ``Select`` fed by
``GreaterEqual`` for lengths: Keras 3's mask is a boolean input, so a masked layer stays a ``Loop``
of the cell's ops (no ``sequence_lens``).

Weights: converted once per (dtype, I, H, form) with marker weights; every initializer holding
markers becomes a graph input fed from the parameters under test, its other elements (the zero
``Rb``) kept. onnxruntime's ``LSTM`` runs no float64 ("LSTM operator does not support double yet",
at the first run), and at bfloat16 the rewriter fails ("unsupported numpy dtype 'bfloat16' for
mapping to onnx", logged) and leaves a ``Loop`` whose bfloat16 inputs onnxruntime refuses: those
dtypes skip with onnxruntime's message. float16 converts to an ``LSTM`` node and runs, but no
float16 marker is exact, so this column does not check it (the skip says so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from lstm_verify.adapters.base import Adapter, Capabilities, Model
from lstm_verify.cache import cached_conversion
from lstm_verify.dtypes import STORAGE, numpy_dtype
from lstm_verify.layouts import KERAS, Native

MARKABLE = ("float32", "float64")
"""The dtypes whose markers are exact (:data:`~lstm_verify.adapters._markers.MARKER`)."""


@dataclass(frozen=True)
class Converted:
    """A session on one converted graph, and for each of its marked initializers (now inputs) the
    parameter index of each element, -1 where the converter wrote a value of its own."""

    session: object
    gathers: dict[str, tuple[np.ndarray, np.ndarray]]
    """Input name -> (parameter indices, -1 for none; the converter's values)."""


def parameters_as_inputs(model: object, size: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Turn every initializer of ``model`` (an ``onnx.ModelProto``) holding markers of ``size``
    parameters into a graph input: its gather (:attr:`Converted.gathers`). Refused unless every
    parameter is found."""
    import onnx
    from onnx import numpy_helper

    from lstm_verify.adapters._markers import decode, marked

    gathers = {}
    for init in list(model.graph.initializer):
        value = numpy_helper.to_array(init)
        hit = marked(value, size) if value.dtype.kind == "f" else np.zeros(value.shape, bool)
        if hit.any():
            gathers[init.name] = (np.where(hit, decode(value.astype(np.float64)), -1).astype(np.int64), value)
            model.graph.initializer.remove(init)
            model.graph.input.append(onnx.helper.make_tensor_value_info(init.name, init.data_type, value.shape))
    used = np.zeros(size + 1, bool)
    for index, _ in gathers.values():
        used[index.ravel()] = True
    if not used[:size].all():
        raise ValueError(f"the converted graph uses {int((~used[:size]).sum())} of the {size} parameters other than "
                         "by copying them; the kit cannot substitute them")
    return gathers


def convert(input_size: int, hidden: int, dtype: str, form: object, marked: bool = True) -> object:
    """The marker model (:func:`~lstm_verify.adapters._keras_converted.marker_model`) through
    ``tf2onnx.convert.from_keras``: an ``onnx.ModelProto``."""
    import tensorflow as tf
    import tf2onnx

    from lstm_verify.adapters._keras_converted import marker_model

    with tf.device("/cpu:0"):
        return tf2onnx.convert.from_keras(marker_model(input_size, hidden, dtype, form, marked))[0]


def session(model: object) -> object:
    """An onnxruntime session on ``model``, on the CPU, one thread."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


class KerasViaTf2Onnx(Adapter):
    """A Keras 3 LSTM through tf2onnx and onnxruntime (see the module docstring): whole sequences
    from a given state or Keras's zeros, masked lengths, ``go_backwards``."""

    name = "keras-tensorflow-via-tf2onnx"
    requires = ("keras", "tensorflow", "tf2onnx", "onnx", "onnxruntime")
    distributions = ("keras", "tensorflow-cpu", "tf2onnx", "onnxruntime")
    environment = {"KERAS_BACKEND": "tensorflow"}
    layout = KERAS
    capabilities = Capabilities(dtypes=STORAGE, sequence=True, lengths=True, reverse=True)

    def __init__(self) -> None:
        self._converted: dict[tuple, Converted] = {}
        self._refusals: dict[str, str | None] = {}

    def precision(self, dtype: str) -> str:
        """onnxruntime's MLAS Sigmoid and Tanh (see :mod:`lstm_verify.adapters.onnxruntime_lstm`)."""
        return "approximate-activations"

    def converted(self, input_size: int, hidden: int, dtype: str, form: object) -> Converted:
        """The session of the marker model of these sizes, dtype and form, converted once (and kept in
        the cache folder: :func:`~lstm_verify.cache.cached_conversion`)."""
        key = (input_size, hidden, dtype, form)
        if key not in self._converted:
            import onnx

            model = onnx.load_from_string(cached_conversion(
                (type(self).__qualname__, key, self.version()),
                lambda: self.convert(input_size, hidden, dtype, form).SerializeToString(), (__name__, type(self))))
            gathers = parameters_as_inputs(model, 4 * hidden * (input_size + hidden + 1))
            self._converted[key] = Converted(session(model), gathers)
        return self._converted[key]

    def convert(self, input_size: int, hidden: int, dtype: str, form: object) -> object:
        """The marker model of these sizes, dtype and form converted (:func:`convert`)."""
        return convert(input_size, hidden, dtype, form)

    def run(self, model: object, form: object, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """One call of ``model`` (a :class:`~lstm_verify.adapters._keras_converted.ConvertedModel`)."""
        input_size, hidden = model.native["w_ih"].shape
        converted = self.converted(input_size, hidden // 4, model.dtype, form)
        element = numpy_dtype(model.dtype)
        parameters = {name: np.where(index >= 0, model.flat[np.maximum(index, 0)], value).astype(element)
                      for name, (index, value) in converted.gathers.items()}
        return converted.session.run(None, {**feeds, **parameters})

    def unsupported(self, dtype: str) -> str | None:
        """onnxruntime's refusal of the layer converted at ``dtype`` (one input, one unit, one step),
        or that ``dtype`` cannot be marked."""
        if dtype not in self._refusals:
            self._refusals[dtype] = self._refusal(dtype)
        return self._refusals[dtype]

    def _refusal(self, dtype: str) -> str | None:
        from lstm_verify.adapters._keras_converted import Form

        zeros = {"xs": np.zeros((1, 1, 1)), "h": np.zeros((1, 1)), "c": np.zeros((1, 1))}
        try:
            session(convert(1, 1, dtype, Form(None, True, False, False), marked=False)).run(
                None, {k: v.astype(numpy_dtype(dtype)) for k, v in zeros.items()})
        except Exception as exc:  # noqa: BLE001 -- whatever the converter or onnxruntime raises is the reason
            names = r" Name:'[^']*'| \((functional|node)[^)]*\)"  # a node's name counts up
            message = re.sub(names, "", str(exc).splitlines()[0])
            return f"onnxruntime refuses the layer tf2onnx converts at {dtype}: {type(exc).__name__}: {message}"
        if dtype not in MARKABLE:
            return (f"onnxruntime runs the layer converted at {dtype}, but no {dtype} marker is exact: this column "
                    f"converts once per shape with marked weights, and cannot substitute {dtype} ones")
        return None

    def load(self, native: Native, dtype: str) -> Model:
        from lstm_verify.adapters._keras_converted import ConvertedModel

        return ConvertedModel(self.run, native, dtype, fixed_batch=False)
