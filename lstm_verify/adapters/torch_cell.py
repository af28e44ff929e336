"""torch ``nn.LSTMCell``: gate order i, f, g, o in ``weight_ih``/``weight_hh``/``bias_ih``/``bias_hh``;
and ``--kind torch-cell`` TARGETs, whose parameters may be stored in any ``--layout``."""

from __future__ import annotations

import torch

from lstm_verify.adapters._torch import TorchAdapter, TorchCellModel
from lstm_verify.adapters.base import Capabilities, Model
from lstm_verify.dtypes import STORAGE
from lstm_verify.layouts import TARGET_NAMES, TORCH, Layout, Native


class TorchCellAdapter(TorchAdapter):
    """``nn.LSTMCell``, or any class built as ``Cls(input_size, hidden_size)`` holding its parameters as
    attributes named by :data:`~lstm_verify.layouts.TARGET_NAMES`, stored as ``layout`` says."""

    capabilities = Capabilities(gradients=True, training=True, unbatched=True, dtypes=STORAGE)

    def __init__(self, cell_class: type = torch.nn.LSTMCell, name: str = "torch-cell", layout: Layout = TORCH,
                 device: str = "cpu") -> None:
        self.cell_class, self.name, self.layout, self.device = cell_class, name, layout, device

    def load(self, native: Native, dtype: str) -> Model:
        cell = self.cell_class(*self.layout.sizes(native)).to(getattr(torch, dtype)).to(self.device)
        tensors = {key: getattr(cell, TARGET_NAMES[key]) for key in native}
        return TorchCellModel(cell, tensors, native, self.device)


def cuda() -> TorchCellAdapter:
    """``nn.LSTMCell`` on the GPU, TF32 off."""
    return TorchCellAdapter(name="torch-cell-cuda", device="cuda")
