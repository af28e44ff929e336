"""torch ``nn.LSTMCell``: gate order i, f, g, o in ``weight_ih``/``weight_hh``/``bias_ih``/``bias_hh``.

This is the file to copy when adding an adapter: a layout, capabilities, and a
``load`` that builds the library's object and names its parameter tensors.
"""

from __future__ import annotations

import torch

from lstm_verify.adapters._torch import TorchCellModel
from lstm_verify.adapters.base import Adapter, Capabilities, Model
from lstm_verify.layouts import TORCH, Native


class TorchCellAdapter(Adapter):
    name = "torch-cell"
    requires = ("torch",)
    layout = TORCH
    capabilities = Capabilities(gradients=True, training=True, unbatched=True)

    def load(self, native: Native, dtype: str) -> Model:
        input_size, hidden_size = native["w_ih"].shape[1], native["w_hh"].shape[1]
        cell = torch.nn.LSTMCell(input_size, hidden_size, dtype=getattr(torch, dtype))
        tensors = {"w_ih": cell.weight_ih, "w_hh": cell.weight_hh, "b_ih": cell.bias_ih, "b_hh": cell.bias_hh}
        return TorchCellModel(cell, tensors, native)
