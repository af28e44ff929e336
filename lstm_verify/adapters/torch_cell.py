"""torch ``nn.LSTMCell``: gate order i, f, g, o in ``weight_ih``/``weight_hh``/``bias_ih``/``bias_hh``.

This is the file to copy when adding an adapter: a layout, capabilities, and a
``load`` that builds the library's object and names its parameter tensors.
"""

from __future__ import annotations

import torch

from lstm_verify.adapters._torch import TorchAdapter, TorchCellModel
from lstm_verify.adapters.base import Capabilities, Model
from lstm_verify.layouts import TORCH, Layout, Native


class TorchCellAdapter(TorchAdapter):
    """``nn.LSTMCell``, or any class built as ``Cls(input_size, hidden_size)`` with its parameters."""

    capabilities = Capabilities(gradients=True, training=True, unbatched=True)

    def __init__(self, cell_class: type = torch.nn.LSTMCell, name: str = "torch-cell", layout: Layout = TORCH,
                 device: str = "cpu") -> None:
        self.cell_class, self.name, self.layout, self.device = cell_class, name, layout, device

    def load(self, native: Native, dtype: str) -> Model:
        input_size, hidden_size = native["w_ih"].shape[1], native["w_hh"].shape[1]
        cell = self.cell_class(input_size, hidden_size).to(getattr(torch, dtype)).to(self.device)
        tensors = {"w_ih": cell.weight_ih, "w_hh": cell.weight_hh, "b_ih": cell.bias_ih, "b_hh": cell.bias_hh}
        return TorchCellModel(cell, tensors, native, self.device)


def cuda() -> TorchCellAdapter:
    """``nn.LSTMCell`` on the GPU, TF32 off."""
    return TorchCellAdapter(name="torch-cell-cuda", device="cuda")
