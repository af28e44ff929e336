"""LiteRT (TensorFlow Lite, ``ai_edge_litert.interpreter.Interpreter``) running an LSTM that
TensorFlow's converter (``tf.lite.TFLiteConverter``, default settings) made from plain TensorFlow
ops, in the two forms a converted LSTM takes:

* ``litert``: a ``tf.function`` looping over time (``tf.while_loop`` of matmuls, sigmoid and
  tanh), converted with ``from_concrete_functions``: a ``WHILE`` whose body holds the cell's
  ordinary ops. Time and batch are dynamic (``resize_tensor_input``).
* ``litert-fused``: the fused ``UNIDIRECTIONAL_SEQUENCE_LSTM`` kernel. The converter emits it
  only for a function that declares itself Keras's LSTM layer, read in
  tensorflow/compiler/mlir/lite/transforms/prepare_composite_functions_tf.cc
  (``PrepareCompositeFunctionsPass::runOnOperation`` -> ``ConvertTFAPIImplements`` ->
  ``CheckFusableKerasLstm``) and tensorflow/compiler/mlir/lite/utils/lstm_utils.cc
  (``ConvertKerasLSTMLayer``): the function's ``tf.api_implements`` attribute starts with
  ``lstm_`` (``tf.function(experimental_attributes={"api_implements": "lstm_<id>", "time_major":
  True})``; ``time_major`` is required), its arguments are (inputs, h_0, c_0, kernel (I, 4H),
  recurrent kernel (H, 4H), bias (4H)) with static shapes for all but the inputs (so a fixed
  batch), it returns five results of which callers use only the first two (last output, whole
  sequence), and the model is converted ``from_saved_model`` (``from_concrete_functions`` inlines
  the function first and emits a ``WHILE``). The body is replaced by the fused op, so what the
  function computes does not matter; its kernel is split into gate blocks i, f, c, o (Keras's
  storage). ``ConvertKerasLSTMLayer`` sets ``cell_clip`` = 10: the cell state is clipped to
  [-10, 10] after each update (a known difference). The op takes h_0 and c_0 as its state
  tensors and writes the final state back into them (measured: they hold h_T and c_T after
  ``invoke``, within 2e-7 of the reference); the final state is read there. Each conversion
  is checked to hold the op (``_get_ops_details``).

Weights are constants of the converted model, as deployed. Converting costs seconds (2.5 s
under load), so each form is converted once per shape (``litert``: I, H; ``litert-fused``: I,
H, B), kept in the cache folder for other workers and later runs
(:func:`~lstm_verify.cache.cached_conversion`), with marker weights (element k of the parameters
is 2^23 + k, or -k from 2^23 on: exact in float32), and every constant buffer made of markers is
a gather of the parameters: a model's weights are written into those buffers of the flatbuffer
(as ``torch-onnx`` reads an export). A buffer mixing markers with other values (the converter
folding arithmetic into a weight) is refused.

float32 only: the other dtypes are refused by LiteRT or its converter, whose message is the
skip. One interpreter thread, LiteRT's default XNNPACK delegate (as deployed).

``--kind tf-step --via tflite`` (:class:`TfliteStepAdapter`) runs a TARGET's step through the same
loop, converter and interpreter, its parameters inputs of the converted model.

Cost: converting is what a shape costs (measured under load: 1 s for the ``WHILE`` form, 3.4 s for
the fused form, which goes through a SavedModel; creating the interpreter of an I = H = 512 model
0.26 s, its first invoke 0.15 s, a later one 0.035 s), and the kernel-size laws draw 25 shapes; a
run with a warm cache folder converts none.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
import os
import re
import tempfile
import uuid
from functools import cache, cached_property
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ai_edge_litert import schema_py_generated as schema  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402

from lstm_verify.adapters._markers import decode, marked, marker_arrays  # noqa: E402
from lstm_verify.adapters.base import Adapter, Capabilities, Model, SequenceModel, State  # noqa: E402
from lstm_verify.adapters.tf_step import Cell as StepCell  # noqa: E402
from lstm_verify.adapters.tf_step import converted_capabilities, step_cell  # noqa: E402
from lstm_verify.cache import cached_conversion  # noqa: E402
from lstm_verify.dtypes import STORAGE, numpy_dtype  # noqa: E402
from lstm_verify.expected import Expected  # noqa: E402
from lstm_verify.layouts import KERAS, Layout, Native  # noqa: E402
from lstm_verify.params import Params  # noqa: E402
from lstm_verify.reference import Variant  # noqa: E402

NAMES = ("w_ih", "w_hh", "b")
"""The native parameters in the order the markers number them (Keras's kernel, recurrent kernel, bias)."""
FUSED = "UNIDIRECTIONAL_SEQUENCE_LSTM"
MEASURED = "ai-edge-litert==2.3.0"


Cell = Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]
"""``cell(x, h, c) -> (h, c)`` on TF tensors."""


def loop(cell: Cell, xs: tf.Tensor, h: tf.Tensor, c: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """``cell`` over xs (T, B, I) from (h, c) in a ``tf.while_loop`` that concatenates its outputs:
    ``(hs, h_T, c_T)``, T dynamic. The first step runs outside the loop, so hs never starts empty."""
    def body(t: tf.Tensor, h: tf.Tensor, c: tf.Tensor, hs: tf.Tensor) -> tuple:
        h, c = cell(xs[t], h, c)
        return t + 1, h, c, tf.concat([hs, h[None]], 0)

    h, c = cell(xs[0], h, c)
    _, h, c, hs = tf.while_loop(lambda t, *_: t < tf.shape(xs)[0], body, (tf.constant(1), h, c, h[None]),
                                shape_invariants=(tf.TensorShape([]), h.shape, c.shape,
                                                  tf.TensorShape([None, *h.shape])))
    return hs, h, c


def keras_cell(kernel: tf.Tensor, recurrent_kernel: tf.Tensor, bias: tf.Tensor) -> Cell:
    """The LSTM cell in plain ops with Keras's weights (gate blocks i, f, c, o)."""
    def cell(x: tf.Tensor, h: tf.Tensor, c: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        i, f, g, o = tf.split(tf.matmul(x, kernel) + tf.matmul(h, recurrent_kernel) + bias, 4, axis=-1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        return tf.sigmoid(o) * tf.tanh(c), c
    return cell


def keras_lstm(xs: tf.Tensor, h: tf.Tensor, c: tf.Tensor, kernel: tf.Tensor, recurrent_kernel: tf.Tensor,
               bias: tf.Tensor) -> tuple[tf.Tensor, ...]:
    """The LSTM over xs (T, B, I) from (h, c) in plain ops: ``(h_T, hs, h_T, c_T, 0)``, the results of
    Keras's ``standard_lstm`` (the signature the fusion expects)."""
    hs, h, c = loop(keras_cell(kernel, recurrent_kernel, bias), xs, h, c)
    return h, hs, h, c, tf.zeros([])


def markers(input_size: int, hidden: int) -> Native:
    """Marker parameters in Keras's storage (:func:`~lstm_verify.adapters._markers.marker_arrays`
    over :data:`NAMES`)."""
    shapes = {"w_ih": (input_size, 4 * hidden), "w_hh": (hidden, 4 * hidden), "b": (4 * hidden,)}
    return marker_arrays(shapes)


def _converted(converter: tf.lite.TFLiteConverter, quantize: bool) -> bytes:
    """``converter``'s model; with ``quantize``, dynamic-range int8 weights (``Optimize.DEFAULT``, no
    representative data set)."""
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter.convert()


def convert_loop(native: Native, dtype: str = "float32", quantize: bool = False) -> bytes:
    """The ``WHILE`` form of the LSTM with ``native``'s weights as constants: ``(xs, h, c) -> (hs, h_T,
    c_T)``, time and batch dynamic."""
    weights = {n: tf.constant(native[n], dtype) for n in NAMES}
    input_size, hidden = native["w_ih"].shape[0], native["w_hh"].shape[0]
    signature = [tf.TensorSpec([None, None, input_size], dtype), *[tf.TensorSpec([None, hidden], dtype)] * 2]

    @tf.function(input_signature=signature)
    def run(xs: tf.Tensor, h: tf.Tensor, c: tf.Tensor) -> tuple:
        _, hs, h, c, _ = keras_lstm(xs, h, c, weights["w_ih"], weights["w_hh"], weights["b"])
        return hs, h, c
    return _converted(tf.lite.TFLiteConverter.from_concrete_functions([run.get_concrete_function()], run), quantize)


def convert_fused(native: Native, batch: int, dtype: str = "float32", quantize: bool = False,
                  data: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> bytes:
    """The fused form with ``native``'s weights as constants: ``(xs, h, c) -> hs``, time dynamic, batch
    fixed; h and c are the op's state. With ``data`` = (xs, h_0, c_0), converted to full integer with
    it as the representative data set (its shapes fixed; fed by input name: the SavedModel's signature
    orders its inputs by name)."""
    weights = {n: tf.constant(native[n], dtype) for n in NAMES}
    input_size, hidden = native["w_ih"].shape[0], native["w_hh"].shape[0]
    layer = tf.function(keras_lstm, experimental_attributes={"api_implements": f"lstm_{uuid.uuid4().hex}",
                                                             "time_major": True, "go_backwards": False})
    signature = [tf.TensorSpec([None, batch, input_size], dtype), *[tf.TensorSpec([batch, hidden], dtype)] * 2]
    if data is not None:
        signature = [tf.TensorSpec(a.shape, dtype) for a in data]

    @tf.function(input_signature=signature)
    def run(xs: tf.Tensor, h: tf.Tensor, c: tf.Tensor) -> tf.Tensor:
        return layer(xs, h, c, weights["w_ih"], weights["w_hh"], weights["b"])[1]
    module = tf.Module()
    module.run = run
    with tempfile.TemporaryDirectory() as folder:
        tf.saved_model.save(module, folder, signatures=run.get_concrete_function())
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        if data is not None:
            feeds = dict(zip(("xs", "h", "c"), (np.asarray(a, np.float32) for a in data)))
            converter.representative_dataset = lambda: iter([feeds])
        return _converted(converter, quantize or data is not None)


def convert_unrolled(native: Native, data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> bytes:
    """The LSTM unrolled over ``data``'s T steps (a Python loop: no ``WHILE``, whose calibration crashes
    TensorFlow 2.21's converter), B fixed, converted to full integer with ``data`` = (xs, h_0, c_0) as
    the representative data set: ``(xs, h, c) -> (hs, h_T, c_T)``, float input and output (the model
    quantizes its inputs and dequantizes its outputs)."""
    cell = keras_cell(*(tf.constant(native[n], tf.float32) for n in NAMES))
    signature = [tf.TensorSpec(a.shape, tf.float32) for a in data]

    @tf.function(input_signature=signature)
    def run(xs: tf.Tensor, h: tf.Tensor, c: tf.Tensor) -> tuple:
        hs = []
        for x in tf.unstack(xs):
            h, c = cell(x, h, c)
            hs.append(h)
        return tf.stack(hs), h, c
    converter = tf.lite.TFLiteConverter.from_concrete_functions([run.get_concrete_function()], run)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: iter([[np.asarray(a, np.float32) for a in data]])
    return converter.convert()


def convert_step(cell: StepCell, native: Native, hidden: int, dtype: str) -> bytes:
    """``cell`` over time (:func:`loop`): ``(xs, h, c, *parameters) -> (hs, h_T, c_T)``, the native
    parameters inputs by name, time and batch dynamic."""
    keys, element = tuple(native), tf.as_dtype(numpy_dtype(dtype))
    signature = [tf.TensorSpec([None, None, None], element, name="xs"),
                 *(tf.TensorSpec([None, hidden], element, name=n) for n in ("h", "c")),
                 *(tf.TensorSpec(v.shape, element, name=k) for k, v in native.items())]

    @tf.function(input_signature=signature)
    def run(xs: tf.Tensor, h: tf.Tensor, c: tf.Tensor, *values: tf.Tensor) -> tuple:
        params = dict(zip(keys, values))
        return loop(lambda x, h, c: cell(params, x, h, c), xs, h, c)
    return tf.lite.TFLiteConverter.from_concrete_functions([run.get_concrete_function()], run).convert()


def marker_buffers(flatbuffer: bytes, size: int) -> list[tuple[int, np.ndarray]]:
    """``(byte offset, parameter indices)`` of every float32 buffer of the model made of markers;
    a buffer that holds markers and other values is refused."""
    model = schema.Model.GetRootAs(flatbuffer, 0)
    found = []
    for k in range(model.BuffersLength()):
        table = model.Buffers(k)._tab
        field = table.Offset(4)  # Buffer.data
        if not field or table.VectorLen(field) % 4:
            continue
        start = table.Vector(field)
        values = np.frombuffer(flatbuffer, "<f4", table.VectorLen(field) // 4, start)
        hit = marked(values, size)
        if hit.all():
            found.append((start, decode(values.astype(np.float64)).astype(np.int64)))
        elif hit.any():
            raise ValueError(f"buffer {k} of the converted model mixes parameters with other values: the converter "
                             f"computed with a weight, which this adapter cannot substitute")
    return found


class Program:
    """One converted flatbuffer and where the parameters lie in it (no marker buffers: ``size`` 0)."""

    def __init__(self, flatbuffer: bytes, size: int = 0) -> None:
        self.flatbuffer, self.patches = flatbuffer, marker_buffers(flatbuffer, size) if size else []

    @cached_property
    def marked(self) -> int:
        """How many distinct parameters lie in marker buffers: all of them where none was quantized or folded."""
        return np.unique(np.concatenate([np.zeros(0, np.int64), *(index for _, index in self.patches)])).size

    def interpreter(self, native: Native) -> Interpreter:
        """An interpreter of the model holding ``native``'s parameters as its constants."""
        model = bytearray(self.flatbuffer)
        if self.patches:
            flat = np.concatenate([np.asarray(native[n], np.float32).ravel() for n in NAMES])
            for start, index in self.patches:
                model[start:start + 4 * len(index)] = flat[index].astype("<f4").tobytes()
        return Interpreter(model_content=bytes(model), num_threads=1)


def invoke(interpreter: Interpreter, feeds: dict[str, np.ndarray]) -> tuple[dict[str, int], list[np.ndarray]]:
    """One run of ``interpreter`` on ``feeds`` by input name (each resized to and cast for its input):
    ``(input tensor indices by name, outputs)``."""
    inputs = {d["name"].removeprefix("serving_default_").split(":")[0]: d for d in interpreter.get_input_details()}
    for name, value in feeds.items():
        interpreter.resize_tensor_input(inputs[name]["index"], value.shape)
    interpreter.allocate_tensors()
    for name, value in feeds.items():
        interpreter.set_tensor(inputs[name]["index"], np.ascontiguousarray(value, inputs[name]["dtype"]))
    interpreter.invoke()
    outputs = [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]
    return {name: d["index"] for name, d in inputs.items()}, outputs


def refusal(convert: Callable[[], bytes]) -> str | None:
    """LiteRT's (or its converter's) message for a model ``convert`` makes, converted, allocated and
    invoked once; None if it runs."""
    try:
        interpreter = Interpreter(model_content=convert())
        interpreter.allocate_tensors()
        interpreter.invoke()
    except Exception as exc:  # noqa: BLE001 -- whatever LiteRT raises is the reason
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        said = [line for line in lines if line.startswith(("Some ops are not supported", "TF Select ops", "error:"))]
        message = re.sub(r"(@__inference_\w+)_\d+", r"\1", " ".join(said or lines[:1]))  # a trace's number counts up
        return f"{type(exc).__name__}: {message}"
    return None


def cached_refusal(key_parts: tuple, convert: Callable[[], bytes], code: tuple[object, ...]) -> str | None:
    """:func:`refusal`, kept in the cache folder as a conversion is (:func:`~lstm_verify.cache.cached_conversion`:
    the same converter, versions and code refuse alike), so a later run does not convert to learn it."""
    return cached_conversion(("refusal", *key_parts), lambda: (refusal(convert) or "").encode(), code).decode() or None


class LiteRtModel(SequenceModel):
    """One parameter set on LiteRT: an interpreter per program (per batch for the fused form)."""

    def __init__(self, adapter: LiteRtAdapter, native: Native, dtype: str) -> None:
        self.adapter, self.native, self.dtype = adapter, native, dtype
        self.interpreters: dict[tuple, Interpreter] = {}

    def sequence(self, xs: np.ndarray, state: State | None = None, *, lengths: np.ndarray | None = None,
                 reverse: bool = False) -> tuple[np.ndarray, State]:
        if lengths is not None or reverse or state is None:
            raise NotImplementedError("the converted LSTM runs whole sequences forward only, from a given state")
        interpreter = self.interpreter(xs, state)
        inputs, outputs = invoke(interpreter, {"xs": xs, "h": state[0], "c": state[1],
                                               **self.adapter.parameter_feeds(self.native)})
        return self.adapter.results(interpreter, inputs, outputs)

    def interpreter(self, xs: np.ndarray, state: State) -> Interpreter:
        """The interpreter of the model converted for xs's shape, made once."""
        key = self.adapter.key(self.native, xs.shape[1], self.dtype)
        if key not in self.interpreters:
            self.interpreters[key] = self.adapter.interpreter(self.native, key)
        return self.interpreters[key]


class LiteRtAdapter(Adapter):
    """The ``WHILE`` form (see the module docstring)."""

    name = "litert"
    requires = ("tensorflow", "ai_edge_litert")
    distributions = ("tensorflow-cpu", "ai-edge-litert")
    layout = KERAS
    capabilities = Capabilities(dtypes=("float32",), sequence=True, optional_state=False)
    operator = "WHILE"
    """The op every conversion must hold."""

    def __init__(self) -> None:
        self._programs: dict[tuple, Program] = {}

    def key(self, native: Native, batch: int, dtype: str) -> tuple:
        """What a conversion is made for: the sizes the converted model fixes (I, H)."""
        return native["w_ih"].shape[0], native["w_hh"].shape[0]

    def convert(self, key: tuple) -> bytes:
        """The model converted for ``key``, marker weights."""
        return self.build(markers(*key[:2]), key)

    def build(self, native: Native, key: tuple, quantize: bool = False) -> bytes:
        """The model converted with ``native``'s weights (and ``key``'s batch where it fixes one)."""
        return convert_loop(native, quantize=quantize)

    def size(self, key: tuple) -> int:
        """How many parameters the converted model holds as marked constants (I, H: 4H (I + H + 1))."""
        input_size, hidden = key[:2]
        return 4 * hidden * (input_size + hidden + 1)

    def parameter_feeds(self, native: Native) -> dict[str, np.ndarray]:
        """The parameters the model takes as inputs: none, its weights are constants."""
        return {}

    def code(self) -> tuple[object, ...]:
        """The code a conversion runs, for :func:`~lstm_verify.cache.cached_conversion`: this module
        (with the adapter modules it imports) and the adapter's class (a subclass's file)."""
        return __name__, type(self)

    def program(self, key: tuple) -> Program:
        """The converted model for ``key``, converted once; refused without :attr:`operator`."""
        if key not in self._programs:
            flatbuffer = cached_conversion((type(self).__qualname__, key, self.version()), lambda: self.convert(key),
                                           self.code())
            self._programs[key] = Program(self.checked(flatbuffer), self.size(key))
        return self._programs[key]

    def checked(self, flatbuffer: bytes) -> bytes:
        """``flatbuffer``, refused unless it holds :attr:`operator`."""
        ops = {op["op_name"] for op in Interpreter(model_content=flatbuffer)._get_ops_details()}
        if self.operator not in ops:
            raise RuntimeError(f"the converter emitted {sorted(ops)}, without {self.operator}")
        return flatbuffer

    def interpreter(self, native: Native, key: tuple) -> Interpreter:
        """An interpreter of the model converted for ``key`` holding ``native``'s parameters."""
        return self.program(key).interpreter(native)

    def results(self, interpreter: Interpreter, inputs: dict[str, int], outputs: list[np.ndarray]
                ) -> tuple[np.ndarray, State]:
        """``(hs, (h_T, c_T))`` of one invoke."""
        hs, h, c = outputs
        return hs, (h, c)

    def precision(self, dtype: str) -> str:
        """IEEE float32, its sigmoid and tanh within the allowances every IEEE activation has
        (:data:`~lstm_verify.error_model.OWN_ULPS`, by |z|), though not correctly rounded. Measured
        through the cell (``probes.probe_gate`` and ``probe_cell_activation``, 20480 points each, sigmoid
        over [-18, 18], tanh over [-10, 10]): sigmoid at most 1.2 u (``litert``) and 2.0 u
        (``litert-fused``), tanh 3.9 u at |z| = 3.3 and 3.7 u at |z| = 4.0, 0.66 of the allowance at
        most; past |z| = 10, where float32's tanh is 1, they return 1 - 2.5e-7 and 1 - 2.9e-7 (4.2 and
        4.8 u, where 7.5 u is allowed). Declared ``approximate-activations`` while the allowance was a
        flat 4, then 5 ulps (:data:`MEASURED`)."""
        return "ieee"

    def version(self) -> str:
        return f"tensorflow {tf.__version__} (converter), ai-edge-litert {_litert_version()}"

    def unsupported(self, dtype: str) -> str | None:
        return None if dtype in self.capabilities.dtypes else _refusal(type(self), dtype)

    def load(self, native: Native, dtype: str) -> Model:
        return LiteRtModel(self, native, dtype)


class LiteRtFusedAdapter(LiteRtAdapter):
    """The fused ``UNIDIRECTIONAL_SEQUENCE_LSTM`` form (see the module docstring)."""

    name = "litert-fused"
    operator = FUSED

    def key(self, native: Native, batch: int, dtype: str) -> tuple:
        """(I, H, B): the fusion fixes the batch."""
        return (*super().key(native, batch, dtype), batch)

    def build(self, native: Native, key: tuple, quantize: bool = False) -> bytes:
        return convert_fused(native, key[2], quantize=quantize)

    def known_differences(self, dtype: str) -> list[Expected]:
        clip = ("TensorFlow 2.21's converter gives the fused kernel a cell clip at 10 (ConvertKerasLSTMLayer, "
                "tensorflow/compiler/mlir/lite/utils/lstm_utils.cc, sets cell_clip = 10), which the function it "
                "replaces does not")
        return [Expected("test_exact_cec_carry", versions=MEASURED,
                         match=r"^c_T\[.*\]=-?10\.0, but should be exactly -?\d",
                         reason=f"{clip}: with f = 1, i = 0 and c_0 = 20.107, c_T = 10.0; a Keras LSTM converted to "
                                f"LiteRT departs from the layer wherever |c| passes 10"),
                Expected("test_sequence_agrees_with_reference", versions=MEASURED, always=False,
                         computes=Variant(clip=10.0, clip_reading="cell"),
                         match=r"^c_T\[[\d, ]+\]=(-?)10, but should be \1(1\d|[2-9]\d|\d{3,})\.",
                         reason=f"{clip}: a long sequence whose cells pass 10 (lstm-verify bench's T = 100 reaches "
                                f"|c| = 23.8) ends at c_T = 10; the law's own cases stay under it")]

    def results(self, interpreter: Interpreter, inputs: dict[str, int], outputs: list[np.ndarray]
                ) -> tuple[np.ndarray, State]:
        """The op writes its final state into its state tensors, the model's inputs h and c."""
        return outputs[0], (interpreter.get_tensor(inputs["h"]), interpreter.get_tensor(inputs["c"]))


def digest(*arrays: np.ndarray) -> str:
    """A digest of ``arrays`` as float32 (what a conversion of them depends on)."""
    return hashlib.sha256(b"".join(np.ascontiguousarray(a, np.float32).tobytes() for a in arrays)).hexdigest()


class Int8Weights(LiteRtAdapter):
    """Dynamic-range quantization (``converter.optimizations = [tf.lite.Optimize.DEFAULT]``, no
    representative data set): the converter rounds each weight tensor of at least 1024 elements to int8,
    symmetric, and the hybrid kernels quantize their float inputs per batch row at run time
    (:data:`lstm_verify.error_model.PRECISIONS`, ``int8-weights``). Quantized buffers cannot be
    patched as the float markers are, and writing int8 buffers here would test this adapter's
    quantizer, not the converter's: where the converter quantizes a weight, each parameter set is
    converted (the cost of a conversion per case, not per shape). Where it quantizes none (every
    tensor under 1024 elements: the laws' small shapes and their probes), its conversion of marker
    weights holds every parameter in a float buffer, and is patched as the float form's is."""

    granularity = "channel"
    """How the converter scales this form's weights: per output channel (``FULLY_CONNECTED``)."""

    def convert(self, key: tuple) -> bytes:
        """The model converted for ``key`` as this form converts, marker weights."""
        return self.build(markers(*key[:2]), key, quantize=True)

    def interpreter(self, native: Native, key: tuple) -> Interpreter:
        """The marker conversion for ``key`` holding ``native``'s parameters where the converter
        quantized none of them; else a conversion of ``native`` itself, kept in the cache folder under
        a digest of its weights (a derandomized run draws the same cases: a later run converts nothing)."""
        program = self.program(key)
        if program.marked == self.size(key):
            return program.interpreter(native)
        weights = digest(*(native[n] for n in NAMES))
        flatbuffer = cached_conversion((type(self).__qualname__, key, self.version(), weights),
                                       lambda: self.build(native, key, quantize=True), self.code())
        return Interpreter(model_content=self.checked(flatbuffer), num_threads=1)

    def precision(self, dtype: str) -> str:
        """int8 weights at :attr:`granularity`, with the float form's arithmetic."""
        suffix = "" if self.granularity == "channel" else f"-per-{self.granularity}"
        base = super().precision(dtype)
        return f"int8-weights{suffix}" + ("" if base == "ieee" else f"+{base}")


class LiteRtInt8Adapter(Int8Weights):
    """``litert`` with dynamic-range int8 weights: its two ``FULLY_CONNECTED`` ops are hybrid, their
    weights scaled per output channel."""

    name = "litert-int8-weights"


class LiteRtFusedInt8Adapter(Int8Weights, LiteRtFusedAdapter):
    """``litert-fused`` with dynamic-range int8 weights: the op's eight gate matrices each get one scale,
    and none is quantized unless all eight reach 1024 elements."""

    name = "litert-fused-int8-weights"
    granularity = "gate"


class FullInt8Model(LiteRtModel):
    """One parameter set fully quantized: a conversion per run, calibrated on that run's inputs."""

    def interpreter(self, xs: np.ndarray, state: State) -> Interpreter:
        data = (xs, *state)
        return self.adapter.calibrated(self.native, data)


class LiteRtFullInt8Adapter(LiteRtAdapter):
    """Full-integer quantization (``Optimize.DEFAULT`` with a representative data set, float input and
    output): every tensor of the unrolled cell is int8 (:func:`convert_unrolled`; the ``WHILE`` form's
    calibration crashes the converter), its activations' steps calibrated on the run's own inputs, which
    are the representative data set: calibration covers exactly what is checked. Declared ``int8``
    (:data:`lstm_verify.error_model.PRECISIONS`). Each run converts (a parameter set and its data),
    kept in the cache folder under their digest."""

    name = "litert-int8"
    operator = "FULLY_CONNECTED"
    capabilities = replace(LiteRtAdapter.capabilities, long_sequences=False)
    """Unrolled, a run of T steps is a graph of T cells: 1000 steps take over a minute to convert, and
    at 200 steps XNNPACK refuses the graph ("failed to create XNNPACK runtime", ai-edge-litert 2.3.0)."""

    def calibrated(self, native: Native, data: tuple[np.ndarray, ...]) -> Interpreter:
        """An interpreter of ``native`` converted with ``data`` (xs, h_0, c_0) as the representative data set."""
        key = (type(self).__qualname__, tuple(a.shape for a in data), self.version(),
               digest(*(native[n] for n in NAMES), *data))
        flatbuffer = cached_conversion(key, lambda: self.quantized(native, data), self.code())
        return Interpreter(model_content=self.checked(flatbuffer), num_threads=1)

    def quantized(self, native: Native, data: tuple[np.ndarray, ...]) -> bytes:
        """The full-integer model of ``native`` calibrated on ``data``."""
        return convert_unrolled(native, data)

    def load(self, native: Native, dtype: str) -> Model:
        return FullInt8Model(self, native, dtype)

    def precision(self, dtype: str) -> str:
        """Every tensor int8; its activations are lookup tables rounded to int8, whose error the steps hold."""
        return "int8"

    def known_differences(self, dtype: str) -> list[Expected]:
        return [Expected("test_exact_cec_carry", versions=MEASURED, match=r"^c_T\[.*, but should be exactly",
                         reason="full-integer quantization: sigmoid's int8 output tops out at 255/256 (step 1/256, "
                                "zero point -128), so a saturated forget gate is not 1 and c decays a little each "
                                "step (c_0 = 20.107 gives c_25 = 20.093)")]


class TfliteStepAdapter(LiteRtAdapter):
    """``--kind tf-step --via tflite``: a TARGET's step over time (:func:`convert_step`), converted
    by ``TFLiteConverter`` once per (dtype, parameter shapes) and run by LiteRT's interpreter. The
    parameters are the converted model's inputs, not constants: a step computes with them (``b_ih +
    b_hh``), which the converter folds into constants no marker could stand for. A dtype the
    converter or LiteRT refuses is skipped with its message."""

    def __init__(self, step: Callable, name: str, layout: Layout, capabilities: Capabilities) -> None:
        super().__init__()
        self.step, self.cell, self.name, self.layout = step, step_cell(step), f"{name}-via-tflite", layout
        self.capabilities = converted_capabilities(capabilities, STORAGE)
        self._refusals: dict[str, str | None] = {}

    def key(self, native: Native, batch: int, dtype: str) -> tuple:
        """(dtype, H, the parameters' shapes by name)."""
        return dtype, self.layout.sizes(native)[1], tuple((k, np.shape(v)) for k, v in native.items())

    def convert(self, key: tuple) -> bytes:
        dtype, hidden, shapes = key
        return convert_step(self.cell, {k: np.zeros(shape) for k, shape in shapes}, hidden, dtype)

    def size(self, key: tuple) -> int:
        return 0

    def parameter_feeds(self, native: Native) -> dict[str, np.ndarray]:
        return dict(native)

    def code(self) -> tuple[object, ...]:
        """The adapter's module and the TARGET's step."""
        return (*super().code(), self.step)

    def unsupported(self, dtype: str) -> str | None:
        """The converter's or LiteRT's refusal of the step converted at ``dtype`` (one input, one unit)."""
        if dtype not in self.capabilities.dtypes:
            return Adapter.unsupported(self, dtype)
        if dtype not in self._refusals:
            native = self.layout.to_native(Params.zeros(1, 1))
            said = cached_refusal((type(self).__qualname__, dtype, self.version()),
                                  lambda: convert_step(self.cell, native, 1, dtype), self.code())
            self._refusals[dtype] = said and f"LiteRT refuses the step converted at {dtype}: {said}"
        return self._refusals[dtype]


@cache
def _litert_version() -> str:
    import importlib.metadata
    return importlib.metadata.version("ai-edge-litert")


@cache
def _refusal(adapter: type[LiteRtAdapter], dtype: str) -> str:
    """LiteRT's (or its converter's) own message for a one-unit LSTM of this form at ``dtype``."""
    one = markers(1, 1)

    def convert() -> bytes:
        return convert_fused(one, 1, dtype) if adapter.operator == FUSED else convert_loop(one, dtype)
    said = cached_refusal((adapter.__qualname__, dtype, tf.__version__, _litert_version()), convert,
                          (__name__, adapter))
    return said or f"{adapter.name} is declared for float32 only"
