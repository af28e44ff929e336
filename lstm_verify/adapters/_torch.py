"""Shared by the torch adapters: array conversion, parameter loading and autograd gradients."""

from __future__ import annotations

import numpy as np
import torch

from lstm_verify.adapters.base import Model, NativeGrads, State
from lstm_verify.layouts import Native


def tensor(a: np.ndarray) -> torch.Tensor:
    """A tensor sharing memory with ``a`` where possible, so in-place writes by the
    implementation reach the caller's array (the kit checks that none happen)."""
    return torch.from_numpy(np.asarray(a))


def array(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


class TorchModel(Model):
    """A torch module plus the map from native parameter names to its tensors.

    Subclasses implement :meth:`run`: the torch-level forward over a sequence.
    """

    def __init__(self, module: torch.nn.Module, tensors: dict[str, torch.Tensor], native: Native) -> None:
        self.module = module
        self.tensors = tensors
        with torch.no_grad():
            for key, t in tensors.items():
                t.copy_(tensor(native[key]))

    def run(self, xs: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
            ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """xs (T, B, I) -> (hs (T, B, H), (h_T, c_T)), differentiable."""
        raise NotImplementedError

    def grads(self, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray,
              gh: np.ndarray, gc: np.ndarray) -> NativeGrads:
        inputs = [tensor(a).clone().requires_grad_(True) for a in (xs, h0, c0)]
        hs, (_, c_last) = self.run(inputs[0], (inputs[1], inputs[2]))
        loss = (hs * tensor(gh).to(hs.dtype)).sum() + (c_last * tensor(gc).to(hs.dtype)).sum()
        wrt = inputs + list(self.tensors.values())
        got = torch.autograd.grad(loss, wrt, allow_unused=True)
        got = [array(g) if g is not None else np.zeros(w.shape) for g, w in zip(got, wrt)]
        return NativeGrads(got[0], got[1], got[2], dict(zip(self.tensors, got[3:])))


class TorchCellModel(TorchModel):
    """A module called as ``cell(x, (h, c)) -> (h, c)``, the state optional."""

    def step(self, x: np.ndarray, state: State | None = None) -> State:
        with torch.no_grad():
            if state is None:
                h, c = self.module(tensor(x))
            else:
                h, c = self.module(tensor(x), (tensor(state[0]), tensor(state[1])))
        return array(h), array(c)

    def run(self, xs: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
            ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        hs = []
        for x in xs:
            state = self.module(x, state)
            hs.append(state[0])
        return torch.stack(hs), state
