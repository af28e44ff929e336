"""torch ``nn.LSTM``, or a user's ``torch-lstm`` class (``--via onnx``), exported with
``torch.onnx.export`` and run by onnxruntime: the exporter's graph (gate reordering, bias packing,
layer and direction wiring, ``batch_first`` transposes) and the module's own forward checked end to
end, with either exporter torch ships (TorchScript, ``dynamo=False``; and the ``torch.export``-based
one, which needs onnxscript).

Exporting folds the parameters into the graph, so each configuration (module, sizes, layers,
directions, ``batch_first``, state given or not) is exported once, with marker parameters: element
k of the parameters the kit substitutes (``weight_ih_l0`` ..., in the layout's names, in order) is
2^20 + k, exact in float32; any other parameter of the module keeps its value. Every float
initializer of the exported graph made only of markers is then a gather of the parameters (the
exporter's own reordering, read back), and becomes a graph input fed from the parameters under
test; a graph that does anything else with them (sums two biases, say) is refused, loudly.

The dynamo exporter (torch 2.13.0, onnxscript 0.7.2) folds the example's sequence length into the
Reshape after the LSTM node although the graph declares it dynamic: exported at T = 7, the model
fails at any other T (``Input shape:{5,2,1,4}, requested shape:{7,-1,4}``; tests/test_onnx_torch.py
keeps the evidence and reports when it is fixed). So that everything else of its graph is checked,
it is exported per sequence length; the TorchScript exporter once per configuration.
"""

from __future__ import annotations

import copy
import importlib.metadata
import io
import os
import time
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import onnx
import onnxruntime
import torch
from onnx import numpy_helper

from lstm_verify.adapters.base import Adapter, Capabilities, Model, SequenceModel, State
from lstm_verify.adapters.torch_lstm import accepts
from lstm_verify.cache import cached_conversion
from lstm_verify.layouts import TARGET_NAMES, TORCH, Layout, Native

MARK = 2.0 ** 20
"""The first marker value; markers are exact in float32 up to 2^24, so up to 15.7M parameters."""
EXPORT_SECONDS: dict[str, float] = {}
"""Seconds spent exporting, per exporter, in this process (for the README's cost figures)."""
COUNT = "lstm_verify.parameters"
"""The exported model's metadata entry holding how many parameters it marks."""


@dataclass(frozen=True)
class Config:
    """One exported graph: the module's class and arguments, the parameters substituted, whether
    (h0, c0) is a graph input, the exporter."""

    lstm_class: Callable[..., torch.nn.Module]
    names: tuple[str, ...]
    """The module's attributes the kit substitutes, in the order of the flat parameter vector."""
    input_size: int
    hidden_size: int
    layers: int
    bidirectional: bool
    batch_first: bool
    state: bool
    dynamo: bool
    steps: int | None = None
    """The sequence length exported, or None for a dynamic one."""


@dataclass(frozen=True)
class Exported:
    """A session on an exported graph, and for each of its parameter inputs the flat indices of the
    module's parameters it gathers."""

    session: onnxruntime.InferenceSession
    gathers: dict[str, np.ndarray]


def _export(config: Config) -> bytes:
    """The exported graph of a marker-parameter module, the count of its marked parameters in its
    metadata (:data:`COUNT`). The module gets only the options that differ from nn.LSTM's defaults."""
    start = time.perf_counter()
    model, count = _exported_graph(config)
    onnx.helper.set_model_props(model, {COUNT: str(count)})
    exporter = "dynamo" if config.dynamo else "torchscript"
    EXPORT_SECONDS[exporter] = EXPORT_SECONDS.get(exporter, 0.0) + time.perf_counter() - start
    return model.SerializeToString()


def _exported_graph(config: Config) -> tuple[onnx.ModelProto, int]:
    """The exported graph of a marker-parameter module and the count of its marked parameters."""
    options: dict[str, object] = {"num_layers": config.layers} if config.layers > 1 else {}
    options.update({k: True for k in ("bidirectional", "batch_first") if getattr(config, k)})
    module = config.lstm_class(config.input_size, config.hidden_size, **options)
    with torch.no_grad():
        start = 0
        for p in (getattr(module, n) for n in config.names):
            p.copy_(MARK + torch.arange(start, start + p.numel(), dtype=torch.float64).reshape(p.shape))
            start += p.numel()
    steps, batch, states = config.steps or 7, 2, config.layers * (2 if config.bidirectional else 1)
    x = torch.rand((batch, steps, config.input_size) if config.batch_first else (steps, batch, config.input_size))
    state = (torch.rand(states, batch, config.hidden_size), torch.rand(states, batch, config.hidden_size))
    args = (x, state) if config.state else (x,)
    inputs = ["x", "h0", "c0"] if config.state else ["x"]
    time_axis, batch_axis = (1, 0) if config.batch_first else (0, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if config.dynamo:
            t, b = torch.export.Dim("T"), torch.export.Dim("B")
            x_axes = {batch_axis: b} if config.steps else {time_axis: t, batch_axis: b}
            shapes = (x_axes,) + (({1: b}, {1: b}),) * config.state
            program = torch.onnx.export(module, args, dynamo=True, input_names=inputs, dynamic_shapes=shapes,
                                        output_names=["y", "h_n", "c_n"], verbose=False)
            return program.model_proto, start
        x_axes = {batch_axis: "B"} if config.steps else {time_axis: "T", batch_axis: "B"}
        axes = {"x": x_axes, **({"h0": {1: "B"}, "c0": {1: "B"}} if config.state else {})}
        buffer = io.BytesIO()
        torch.onnx.export(module, args, buffer, dynamo=False, input_names=inputs, output_names=["y", "h_n", "c_n"],
                          dynamic_axes=axes)
        return onnx.load_from_string(buffer.getvalue()), start


def _parameters_as_inputs(model: onnx.ModelProto, count: int) -> dict[str, np.ndarray]:
    """Turn every initializer made of markers into a graph input; its gather indices by name."""
    gathers: dict[str, np.ndarray] = {}
    for init in list(model.graph.initializer):
        value = numpy_helper.to_array(init)
        if value.dtype.kind != "f" or value.size == 0:
            continue
        index = value.astype(np.float64) - MARK
        if np.all((index >= 0) & (index < count) & (index == np.round(index))):
            gathers[init.name] = index.astype(np.int64)
            model.graph.initializer.remove(init)
            model.graph.input.append(onnx.helper.make_tensor_value_info(init.name, init.data_type, value.shape))
    used = np.zeros(count, bool)
    for index in gathers.values():
        used[index.reshape(-1)] = True
    if not used.all():
        raise ValueError(f"the exported graph uses {int((~used).sum())} of the {count} parameters other than by "
                         "copying them; the kit cannot substitute them")
    return gathers


_EXPORTED: dict[Config, Exported] = {}


def exported(config: Config) -> Exported:
    """The session for ``config``, exported once per process, the export kept in the cache folder for
    other workers and later runs (:func:`~lstm_verify.cache.cached_conversion`)."""
    if config not in _EXPORTED:
        versions = [f"{d} {importlib.metadata.version(d)}" for d in ("torch", "onnx", *("onnxscript",) * config.dynamo)]
        model = onnx.load_from_string(cached_conversion((config, versions), lambda: _export(config),
                                                        (__name__, config.lstm_class)))
        count = int({p.key: p.value for p in model.metadata_props}[COUNT])
        gathers = _parameters_as_inputs(model, count)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        _EXPORTED[config] = Exported(session, gathers)
    return _EXPORTED[config]


class TorchOnnxModel(SequenceModel):
    """An exported module: states (B, H) for one layer and direction, else torch's (L * D, B, H);
    ``natives`` by the module's attribute names."""

    def __init__(self, adapter: TorchOnnxAdapter, natives: dict[str, np.ndarray], input_size: int, hidden_size: int,
                 layers: int, bidirectional: bool, stacked: bool) -> None:
        self.adapter, self.natives, self.stacked = adapter, natives, stacked
        self.shape = (input_size, hidden_size, layers, bidirectional)

    def sequence(self, xs: np.ndarray, state: State | None = None, *, lengths: np.ndarray | None = None,
                 reverse: bool = False) -> tuple[np.ndarray, State]:
        if lengths is not None or reverse:
            raise NotImplementedError("an exported torch-lstm module takes neither lengths nor a reverse mode")
        batch_first = self.adapter.batch_first
        steps = len(xs) if self.adapter.dynamo else None  # the dynamo exporter's sequence length is static
        exp = exported(Config(self.adapter.lstm_class, tuple(self.natives), *self.shape, batch_first,
                              state is not None, self.adapter.dynamo, steps))
        flat = np.concatenate([v.reshape(-1) for v in self.natives.values()])
        feeds = {name: flat[index] for name, index in exp.gathers.items()}
        feeds["x"] = np.ascontiguousarray(xs.transpose(1, 0, 2) if batch_first else xs)
        if state is not None:
            feeds["h0"], feeds["c0"] = (s if self.stacked else s[None] for s in state)
        y, h, c = exp.session.run(["y", "h_n", "c_n"], feeds)
        if batch_first:
            y = y.transpose(1, 0, 2)
        return y, (h, c) if self.stacked else (h[0], c[0])


class TorchOnnxAdapter(Adapter):
    """``lstm_class`` (``nn.LSTM``, or a ``torch-lstm`` TARGET storing its parameters as ``layout``
    says) through ``torch.onnx.export`` (``dynamo`` chooses the exporter) and onnxruntime, float32;
    ``at(layout=1)`` exports it ``batch_first``. Layers, directions and ``batch_first`` are checked
    where the class takes them."""

    requires = ("torch", "onnx", "onnxruntime")

    def __init__(self, lstm_class: Callable[..., torch.nn.Module] = torch.nn.LSTM, dynamo: bool = False,
                 batch_first: bool = False, name: str | None = None, layout: Layout = TORCH) -> None:
        self.lstm_class, self.dynamo, self.batch_first, self.layout = lstm_class, dynamo, batch_first, layout
        self.name = name or ("torch-onnx-dynamo" if dynamo else "torch-onnx")
        if dynamo:
            self.requires = (*self.requires, "onnxscript")
        self.capabilities = Capabilities(dtypes=("float32",), sequence=True,
                                         bidirectional=accepts(lstm_class, "bidirectional"),
                                         layers=accepts(lstm_class, "num_layers"),
                                         batch_major=accepts(lstm_class, "batch_first"))

    def unavailable(self) -> str | None:
        """The dynamo exporter runs only when asked for (env LSTM_VERIFY_EXPORT_DYNAMO=1): it exports
        once per sequence length, some 15 minutes of exports for the suite on 2 cores."""
        if self.dynamo and os.environ.get("LSTM_VERIFY_EXPORT_DYNAMO") != "1":
            return ("the dynamo exporter re-exports per sequence length (it folds the length into the graph; "
                    "about 15 min for the suite): set LSTM_VERIFY_EXPORT_DYNAMO=1 to run it")
        return super().unavailable()

    def precision(self, dtype: str) -> str:
        """onnxruntime's MLAS activations (see :mod:`lstm_verify.adapters.onnxruntime_lstm`)."""
        return "approximate-activations"

    def at(self, opset: int | None = None, layout: int | None = None) -> TorchOnnxAdapter:
        """The same exporter with ``batch_first`` = ``layout == 1`` (the opset is the exporter's)."""
        other = copy.copy(self)
        other.batch_first = self.batch_first if layout is None else layout == 1
        other.name = f"{self.name}-batch-first" if other.batch_first else self.name
        return other

    def _model(self, natives: list[list[Native]], stacked: bool) -> Model:
        named = {f"{TARGET_NAMES[k]}_l{l}{'_reverse' if d else ''}": v
                 for l, layer in enumerate(natives) for d, native in enumerate(layer) for k, v in native.items()}
        return TorchOnnxModel(self, named, *self.layout.sizes(natives[0][0]), len(natives), len(natives[0]) == 2,
                              stacked)

    def load(self, native: Native, dtype: str) -> Model:
        return self._model([[native]], stacked=False)

    def load_stack(self, layers: list[list[Native]], dtype: str) -> Model:
        if "w_hr" in layers[0][0]:
            raise NotImplementedError("proj_size is not exported")
        return self._model(layers, stacked=True)


def dynamo() -> TorchOnnxAdapter:
    """nn.LSTM through the torch.export-based exporter."""
    return TorchOnnxAdapter(dynamo=True)
