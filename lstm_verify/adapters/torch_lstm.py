"""torch ``nn.LSTM`` (one layer): whole sequences in one call, cuDNN on a GPU."""

from __future__ import annotations

import numpy as np
import torch

from lstm_verify.adapters._torch import TorchModel, array, tensor
from lstm_verify.adapters.base import Adapter, Capabilities, Model, State
from lstm_verify.layouts import TORCH, Layout, Native


class TorchLSTMModel(TorchModel):
    def run(self, xs: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
            ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        hs, (h, c) = self.module(xs, (state[0][None], state[1][None]))
        return hs, (h[0], c[0])

    def sequence(self, xs: np.ndarray, state: State | None = None) -> tuple[np.ndarray, State]:
        with torch.no_grad():
            if state is None:
                hs, (h, c) = self.module(tensor(xs))
            else:
                hs, (h, c) = self.module(tensor(xs), (tensor(state[0])[None], tensor(state[1])[None]))
        return array(hs), (array(h[0]), array(c[0]))

    def step(self, x: np.ndarray, state: State | None = None) -> State:
        return self.sequence(x[None], state)[1]


class TorchLSTMAdapter(Adapter):
    """``nn.LSTM`` (one layer), or any class built as ``Cls(input_size, hidden_size)`` that matches it."""

    requires = ("torch",)
    capabilities = Capabilities(gradients=True, training=True, sequence=True, unbatched=True)

    def __init__(self, lstm_class: type = torch.nn.LSTM, name: str = "torch-lstm", layout: Layout = TORCH) -> None:
        self.lstm_class, self.name, self.layout = lstm_class, name, layout

    def load(self, native: Native, dtype: str) -> Model:
        input_size, hidden_size = native["w_ih"].shape[1], native["w_hh"].shape[1]
        lstm = self.lstm_class(input_size, hidden_size).to(getattr(torch, dtype))
        tensors = {"w_ih": lstm.weight_ih_l0, "w_hh": lstm.weight_hh_l0,
                   "b_ih": lstm.bias_ih_l0, "b_hh": lstm.bias_hh_l0}
        return TorchLSTMModel(lstm, tensors, native)
