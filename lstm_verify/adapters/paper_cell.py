"""A torch cell written from the paper, the way a student writes it: one fused Linear
over ``[h, x]``, chunks i, f, g, o, forget bias initialised to +1, state required."""

from __future__ import annotations

import torch
from torch import nn

from lstm_verify.adapters._torch import TorchCellModel
from lstm_verify.adapters.base import Adapter, Capabilities, Model
from lstm_verify.layouts import PAPER, Native


class PaperLSTMCell(nn.Module):
    """One LSTM step: gates from concatenated [h, x]; additive cell update."""

    def __init__(self, in_dim: int, hid_dim: int, forget_bias: float = 1.0) -> None:
        super().__init__()
        self.W = nn.Linear(in_dim + hid_dim, 4 * hid_dim)
        with torch.no_grad():
            self.W.bias[hid_dim:2 * hid_dim].fill_(forget_bias)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
                ) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = state
        i, f, g, o = self.W(torch.cat([h, x], dim=-1)).chunk(4, dim=-1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c_new), c_new


class PaperCellAdapter(Adapter):
    name = "paper-cell"
    requires = ("torch",)
    layout = PAPER
    capabilities = Capabilities(gradients=True, training=True, unbatched=True, optional_state=False)

    def load(self, native: Native, dtype: str) -> Model:
        hidden_size = native["w"].shape[0] // 4
        cell = PaperLSTMCell(native["w"].shape[1] - hidden_size, hidden_size).to(getattr(torch, dtype))
        return TorchCellModel(cell, {"w": cell.W.weight, "b": cell.W.bias}, native)
