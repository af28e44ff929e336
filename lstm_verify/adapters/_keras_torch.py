"""The ``keras-torch`` column's models: the layer's own variables hold the weights (their torch
tensors), gradients by torch autograd through the layer call (:class:`~lstm_verify.adapters._torch.TorchModel`)."""

from __future__ import annotations

from functools import cached_property

import keras
import numpy as np
import torch

from lstm_verify.adapters._keras import NAMES, bidirectional_layer, lstm_layer, require_backend
from lstm_verify.adapters._torch import TorchModel, array, tensor
from lstm_verify.adapters.base import Model, SequenceModel, State
from lstm_verify.layouts import Native

require_backend("torch")


def weights(layer: keras.layers.LSTM) -> dict[str, torch.Tensor]:
    """The torch parameters behind a Keras LSTM's variables, by native name."""
    cell = layer.cell
    return dict(zip(NAMES, (cell.kernel.value, cell.recurrent_kernel.value, cell.bias.value)))


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


def load(natives: list[Native], dtype: str) -> Model:
    """One LSTM, or a bidirectional layer (two native sets)."""
    if len(natives) == 1:
        layer = lstm_layer(natives[0]["w_ih"].shape[0], natives[0]["w_hh"].shape[0], dtype)
        return KerasModel(layer, weights(layer), natives[0])
    layer = bidirectional_layer(natives[0]["w_ih"].shape[0], natives[0]["w_hh"].shape[0], dtype)
    tensors = {f"{k}_{d}": t for d, lstm in enumerate((layer.forward_layer, layer.backward_layer))
               for k, t in weights(lstm).items()}
    return KerasBidirectionalModel(layer, tensors, {f"{k}_{d}": v for d, native in enumerate(natives)
                                                    for k, v in native.items()})
