"""Keras 3 ``keras.layers.LSTM`` on the torch backend.

``kernel`` (I, 4H), ``recurrent_kernel`` (H, 4H) and one ``bias`` (4H), gate blocks i, f, c, o
(keras/src/layers/rnn/lstm.py): :data:`~lstm_verify.layouts.KERAS`. Called batch-major with
``return_sequences`` and ``return_state`` (``[output, h, c]``); lengths become a ``mask``;
``go_backwards`` returns its outputs in processing order, flipped back here; ``Bidirectional``
returns outputs ``[forward | backward]`` and states ``[h_f, c_f, h_b, c_b]``. Gradients by torch
autograd through the layer. Everything runs on the CPU (``keras.device``): on a GPU Keras would
take cuDNN, in TF32. ``KERAS_BACKEND`` defaults to torch here; under another backend the adapter
is unavailable.
"""

from __future__ import annotations

import os
from functools import cached_property

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from lstm_verify.adapters._torch import TorchModel, array, tensor  # noqa: E402
from lstm_verify.adapters.base import Adapter, Capabilities, Model, SequenceModel, State  # noqa: E402
from lstm_verify.dtypes import STORAGE  # noqa: E402
from lstm_verify.expected import Expected  # noqa: E402
from lstm_verify.layouts import KERAS, Native  # noqa: E402


def lstm_layer(input_size: int, hidden_size: int, dtype: str, **options: object) -> keras.layers.LSTM:
    """A built ``keras.layers.LSTM`` on the CPU, its weights not yet set: built with zeros, since
    the default orthogonal initializer needs a QR factorization, which torch has no float16 or
    bfloat16 CPU kernel for (``"geqrf_cpu" not implemented for 'BFloat16'``): a half-precision
    Keras LSTM with default initializers cannot be built on the torch backend's CPU."""
    with keras.device("cpu"):
        layer = keras.layers.LSTM(hidden_size, return_sequences=True, return_state=True, dtype=dtype,
                                  kernel_initializer="zeros", recurrent_initializer="zeros", **options)
        layer.build((None, None, input_size))
    return layer


def weights(layer: keras.layers.LSTM) -> dict[str, torch.Tensor]:
    """The torch parameters behind a Keras LSTM's variables, by native name."""
    cell = layer.cell
    return {"w_ih": cell.kernel.value, "w_hh": cell.recurrent_kernel.value, "b": cell.bias.value}


def call(layer: keras.layers.Layer, xs: torch.Tensor, state: list[torch.Tensor] | None,
         lengths: np.ndarray | None) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``layer`` over time-major xs (T, B, I): time-major outputs and the final states."""
    options: dict[str, object] = {}
    if state is not None:
        options["initial_state"] = state
    if lengths is not None:
        options["mask"] = torch.arange(len(xs))[None, :] < torch.as_tensor(lengths)[:, None]
    with keras.device("cpu"):
        hs, *states = layer(xs.transpose(0, 1), **options)
    return hs.transpose(0, 1), states


class KerasModel(TorchModel, SequenceModel):
    """One ``keras.layers.LSTM``; ``reverse`` runs a ``go_backwards`` twin holding the same weights."""

    def run(self, xs: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
            ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        hs, (h, c) = call(self.module, xs, list(state), None)
        return hs, (h, c)

    @cached_property
    def backward(self) -> keras.layers.LSTM:
        layer = lstm_layer(self.module.cell.kernel.shape[0], self.module.units, self.module.dtype, go_backwards=True)
        layer.set_weights(self.module.get_weights())
        return layer

    def sequence(self, xs: np.ndarray, state: State | None = None, *, lengths: np.ndarray | None = None,
                 reverse: bool = False) -> tuple[np.ndarray, State]:
        with torch.no_grad():
            hs, (h, c) = call(self.backward if reverse else self.module, tensor(xs),
                              None if state is None else [tensor(s) for s in state], lengths)
        return array(hs.flip(0) if reverse else hs), (array(h), array(c))


class KerasBidirectionalModel(TorchModel, SequenceModel):
    """``keras.layers.Bidirectional`` of two LSTMs: states (2, B, H), outputs (T, B, 2H)."""

    def sequence(self, xs: np.ndarray, state: State | None = None, *, lengths: np.ndarray | None = None,
                 reverse: bool = False) -> tuple[np.ndarray, State]:
        if reverse:
            raise NotImplementedError("a bidirectional layer has no reverse mode")
        initial = None if state is None else [tensor(s[d]) for d in (0, 1) for s in state]
        with torch.no_grad():
            hs, (h_f, c_f, h_b, c_b) = call(self.module, tensor(xs), initial, lengths)
        return array(hs), (array(torch.stack([h_f, h_b])), array(torch.stack([c_f, c_b])))


class KerasAdapter(Adapter):
    """``keras.layers.LSTM`` and ``keras.layers.Bidirectional`` (one layer) on the torch backend."""

    name = "keras"
    requires = ("keras", "torch")
    layout = KERAS
    capabilities = Capabilities(gradients=True, training=True, sequence=True, lengths=True, reverse=True,
                                bidirectional=True, dtypes=STORAGE)

    def unavailable(self) -> str | None:
        if keras.backend.backend() != "torch":
            return f"the keras adapter needs the torch backend, not {keras.backend.backend()} (KERAS_BACKEND)"
        return super().unavailable()

    def version(self) -> str:
        return f"{super().version()}, keras backend {keras.backend.backend()}"

    def known_differences(self, dtype: str) -> list[Expected]:
        if dtype != "float64":
            return []
        return [Expected("test_variable_lengths", versions="keras==3.15.1",
                         match=r"(length \d+\)|of row \d+).*is [0-9.e+]+ x the error bound of float64",
                         reason="with a mask Keras runs LSTMCell.call, whose keras.ops.matmul computes float64 in "
                                "float32 on the torch backend (result_type maps float64 to float32 outside "
                                "TensorFlow, keras-team/keras#23704): errors ~1e-8; the unmasked path uses "
                                "torch.matmul and is exact")]

    def load(self, native: Native, dtype: str) -> Model:
        layer = lstm_layer(native["w_ih"].shape[0], native["w_hh"].shape[0], dtype)
        return KerasModel(layer, weights(layer), native)

    def load_stack(self, layers: list[list[Native]], dtype: str) -> Model:
        if len(layers) != 1 or len(layers[0]) != 2 or "w_hr" in layers[0][0]:
            raise NotImplementedError("keras builds one bidirectional layer, without projection")
        input_size, hidden_size = layers[0][0]["w_ih"].shape[0], layers[0][0]["w_hh"].shape[0]
        with keras.device("cpu"):
            layer = keras.layers.Bidirectional(lstm_layer(input_size, hidden_size, dtype), dtype=dtype)
            layer.build((None, None, input_size))
        tensors = {f"{k}_{d}": t for d, lstm in enumerate((layer.forward_layer, layer.backward_layer))
                   for k, t in weights(lstm).items()}
        natives = {f"{k}_{d}": v for d, native in enumerate(layers[0]) for k, v in native.items()}
        return KerasBidirectionalModel(layer, tensors, natives)
