"""Shared by the torch adapters: array conversion, parameter loading and autograd gradients."""

from __future__ import annotations

import warnings
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Iterator

import numpy as np
import torch

from lstm_verify.adapters.base import Adapter, Model, NativeGrads, Pullback, State
from lstm_verify.dtypes import numpy_dtype
from lstm_verify.layouts import Native


def tensor(a: np.ndarray) -> torch.Tensor:
    """A tensor sharing memory and strides with ``a`` where torch can, so in-place writes by the
    implementation reach the caller's array (the kit checks that none happen) and a strided view
    stays one. bfloat16 (ml_dtypes) goes through its bits; negative strides, which torch tensors
    cannot have, are copied."""
    a = np.asarray(a)
    if any(s < 0 for s in a.strides):
        a = a.copy()
    bfloat16 = a.dtype == numpy_dtype("bfloat16")
    with warnings.catch_warnings():  # a read-only array: the kit checks that nothing writes to it
        warnings.simplefilter("ignore", UserWarning)
        t = torch.from_numpy(a.view(np.uint16) if bfloat16 else a)
    return t.view(torch.bfloat16) if bfloat16 else t


def array(t: torch.Tensor) -> np.ndarray:
    t = t.detach().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.uint16).numpy().view(numpy_dtype("bfloat16"))
    return t.numpy()


FP32_FLAGS = (torch.backends.cuda.matmul, torch.backends.cudnn.rnn)
"""What decides how CUDA float32 matmuls and cuDNN RNNs compute: ``"ieee"`` or ``"tf32"``
(torch's cuDNN RNN default is TF32)."""


def set_fp32_precision(mode: str) -> list[str]:
    """Set every flag of :data:`FP32_FLAGS` to ``mode``; returns the settings it replaced."""
    before = [f.fp32_precision for f in FP32_FLAGS]
    for f in FP32_FLAGS:
        f.fp32_precision = mode
    return before


@contextmanager
def fp32_precision(mode: str) -> Iterator[None]:
    """CUDA float32 in ``mode`` while inside, the previous settings restored after."""
    before = set_fp32_precision(mode)
    try:
        yield
    finally:
        for f, value in zip(FP32_FLAGS, before):
            f.fp32_precision = value


class TorchModel(Model):
    """A torch module on ``device`` plus the map from native parameter names to its tensors.

    Subclasses implement :meth:`run`: the torch-level forward over a sequence. On a GPU every
    call runs with float32 in ``fp32`` mode: IEEE, TF32 off.
    """

    fp32 = "ieee"

    def __init__(self, module: torch.nn.Module, tensors: dict[str, torch.Tensor], native: Native,
                 device: str = "cpu") -> None:
        self.module = module
        self.tensors = tensors
        self.device = device
        with torch.no_grad():
            for key, t in tensors.items():
                t.copy_(tensor(native[key]))

    def to_device(self, a: np.ndarray) -> torch.Tensor:
        return tensor(a).to(self.device)

    def precision(self) -> AbstractContextManager:
        return fp32_precision(self.fp32) if self.device != "cpu" else nullcontext()

    def run(self, xs: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
            ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """xs (T, B, I) -> (hs (T, B, H), (h_T, c_T)), differentiable."""
        raise NotImplementedError

    def grads(self, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray,
              gh: np.ndarray, gc: np.ndarray) -> NativeGrads:
        return self._record(xs, h0, c0)[1](gh, gc)

    def vjp(self, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray) -> tuple[np.ndarray, State, Pullback]:
        (hs, h_last, c_last), pullback = self._record(xs, h0, c0)
        return array(hs), (array(h_last), array(c_last)), pullback

    def _record(self, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray
                ) -> tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], Pullback]:
        """:meth:`run` with autograd recording, its outputs left on the device; the pullback
        differentiates the recorded run."""
        inputs = [self.to_device(a).clone().requires_grad_(True) for a in (xs, h0, c0)]
        with self.precision():
            hs, (h_last, c_last) = self.run(inputs[0], (inputs[1], inputs[2]))

        def pullback(gh: np.ndarray, gc: np.ndarray) -> NativeGrads:
            wrt = inputs + list(self.tensors.values())
            with self.precision():
                loss = (hs * self.to_device(gh).to(hs.dtype)).sum() + (c_last * self.to_device(gc).to(hs.dtype)).sum()
                got = torch.autograd.grad(loss, wrt, allow_unused=True)
            got = [array(g) if g is not None else np.zeros(w.shape) for g, w in zip(got, wrt)]
            return NativeGrads(got[0], got[1], got[2], dict(zip(self.tensors, got[3:])))
        return (hs, h_last, c_last), pullback


class TorchCellModel(TorchModel):
    """A module called as ``cell(x, (h, c)) -> (h, c)``, the state optional."""

    def step(self, x: np.ndarray, state: State | None = None) -> State:
        with torch.no_grad(), self.precision():
            if state is None:
                h, c = self.module(self.to_device(x))
            else:
                h, c = self.module(self.to_device(x), (self.to_device(state[0]), self.to_device(state[1])))
        return array(h), array(c)

    def run(self, xs: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
            ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        hs = []
        for x in xs:
            state = self.module(x, state)
            hs.append(state[0])
        return torch.stack(hs), state


class TorchAdapter(Adapter):
    """What the torch adapters share: the library and a device (``cpu``, ``cuda``, ``cuda:N``); a CUDA
    device is unavailable on a machine without it."""

    requires = ("torch",)
    device = "cpu"

    def unavailable(self) -> str | None:
        where = torch.device(self.device)
        if where.type == "cuda" and (not torch.cuda.is_available() or torch.cuda.device_count() <= (where.index or 0)):
            return f"no CUDA device {self.device}" if where.index else "no CUDA device"
        return super().unavailable()
