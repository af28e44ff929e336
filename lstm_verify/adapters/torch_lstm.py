"""torch ``nn.LSTM``: whole sequences in one call, packed sequences, stacks, bidirectional,
``proj_size``; cuDNN on a GPU."""

from __future__ import annotations

import inspect
from typing import Callable

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lstm_verify.adapters._torch import TorchAdapter, TorchModel, array
from lstm_verify.adapters.base import Capabilities, Model, SequenceModel, State
from lstm_verify.dtypes import STORAGE
from lstm_verify.layouts import TARGET_NAMES, TORCH, Layout, Native



class TorchLSTMModel(TorchModel, SequenceModel):
    """One layer (states (B, H), as everywhere in the kit) or, ``stacked``, torch's (L * D, B, H)."""

    def __init__(self, module: torch.nn.Module, tensors: dict[str, torch.Tensor], native: Native,
                 stacked: bool = False, **options: object) -> None:
        super().__init__(module, tensors, native, **options)
        self.stacked = stacked

    def run(self, xs: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
            ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        hs, (h, c) = self.module(xs, (state[0][None], state[1][None]))
        return hs, (h[0], c[0])

    def sequence(self, xs: np.ndarray, state: State | None = None, *, lengths: np.ndarray | None = None,
                 reverse: bool = False) -> tuple[np.ndarray, State]:
        if reverse:
            raise NotImplementedError("nn.LSTM has no reverse-only mode")
        if state is not None:
            state = tuple(self.to_device(s) if self.stacked else self.to_device(s)[None] for s in state)
        with torch.no_grad(), self.precision():
            inputs = self.to_device(xs)
            if lengths is not None:
                inputs = pack_padded_sequence(inputs, torch.as_tensor(lengths), enforce_sorted=False)
            hs, (h, c) = self.module(inputs, state)
            if lengths is not None:
                hs, _ = pad_packed_sequence(hs, total_length=len(xs))
        if not self.stacked:
            h, c = h[0], c[0]
        return array(hs), (array(h), array(c))


def _is_lstm(lstm_class: Callable[..., torch.nn.Module]) -> bool:
    return isinstance(lstm_class, type) and issubclass(lstm_class, torch.nn.LSTM)


def accepts(lstm_class: Callable[..., torch.nn.Module], option: str) -> bool:
    """Whether an nn.LSTM-like class (or factory) takes nn.LSTM's ``option``: every one for a
    subclass of nn.LSTM, else those its signature names."""
    return _is_lstm(lstm_class) or option in inspect.signature(lstm_class).parameters


def stack_capabilities(lstm_class: Callable[..., torch.nn.Module]) -> dict[str, bool]:
    """What an nn.LSTM-like class can build: everything for a subclass of nn.LSTM, else what
    its ``__init__`` accepts (``num_layers``, ``bidirectional``, ``proj_size``)."""
    return {"lengths": _is_lstm(lstm_class), "layers": accepts(lstm_class, "num_layers"),
            "bidirectional": accepts(lstm_class, "bidirectional"), "projection": accepts(lstm_class, "proj_size")}


class TorchLSTMAdapter(TorchAdapter):
    """``nn.LSTM``, or any class built as ``Cls(input_size, hidden_size, **options)`` that matches it
    (sequence-first, ``(out, (h_n, c_n))``, parameters ``weight_ih_l0`` ...). ``device="cuda"``
    runs it on the GPU with TF32 off, so float32 means float32."""

    def __init__(self, lstm_class: type = torch.nn.LSTM, name: str = "torch-lstm", layout: Layout = TORCH,
                 device: str = "cpu") -> None:
        self.lstm_class, self.name, self.layout, self.device = lstm_class, name, layout, device
        self.capabilities = Capabilities(gradients=True, training=True, sequence=True, unbatched=True,
                                         devices=(device,), dtypes=STORAGE, **stack_capabilities(lstm_class))

    def precision(self, dtype: str) -> str:
        """cuDNN's float32 LSTM (TF32 off) computes its activations approximately: measured on an
        H100 (torch 2.11, cuDNN 9.19), tanh(1) in its kernel is 3.9e-6 off, c_1 3.1e-6, where IEEE
        float32 is within 1.2e-7; the nn.LSTMCell loop on the same GPU is IEEE. That is nn.LSTM and
        any subclass that keeps its forward, on any CUDA device."""
        cudnn = _is_lstm(self.lstm_class) and self.lstm_class.forward is torch.nn.LSTM.forward
        if self.device.startswith("cuda") and dtype == "float32" and cudnn:
            return "approximate-activations"
        return super().precision(dtype)

    def load(self, native: Native, dtype: str) -> Model:
        lstm = self._build(native, dtype)
        tensors = {key: getattr(lstm, f"{TARGET_NAMES[key]}_l0") for key in native}
        return TorchLSTMModel(lstm, tensors, native, device=self.device)

    def load_stack(self, layers: list[list[Native]], dtype: str) -> Model:
        first = layers[0][0]
        options: dict[str, object] = {}
        if len(layers) > 1:
            options["num_layers"] = len(layers)
        if len(layers[0]) == 2:
            options["bidirectional"] = True
        if "w_hr" in first:
            options["proj_size"] = first["w_hr"].shape[0]
        lstm = self._build(first, dtype, **options)
        tensors, natives = {}, {}
        for l, layer in enumerate(layers):
            for d, native in enumerate(layer):
                suffix = f"_l{l}" + ("_reverse" if d else "")
                for key, value in native.items():
                    tensors[key + suffix] = getattr(lstm, TARGET_NAMES[key] + suffix)
                    natives[key + suffix] = value
        return TorchLSTMModel(lstm, tensors, natives, stacked=True, device=self.device)

    def _build(self, native: Native, dtype: str, **options: object) -> torch.nn.Module:
        return self.lstm_class(*self.layout.sizes(native), **options).to(getattr(torch, dtype)).to(self.device)


def cuda() -> TorchLSTMAdapter:
    """``nn.LSTM`` on the GPU (cuDNN), TF32 off."""
    return TorchLSTMAdapter(name="torch-lstm-cuda", device="cuda")
