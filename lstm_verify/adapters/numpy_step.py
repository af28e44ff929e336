"""A user's NumPy step ``step(x, h, c, *weights) -> (h, c)``: the weights are the layout's native
arrays in :data:`ARGUMENTS` order (torch's layout: ``weight_ih, weight_hh, bias_ih, bias_hh``, then
``weight_peephole`` for a variant with peepholes)."""

from __future__ import annotations

from typing import Callable

import numpy as np

from lstm_verify.adapters.base import Adapter, Capabilities, Model, State, sequence_keywords
from lstm_verify.layouts import TORCH, Layout, Native

ARGUMENTS = ("w_ih", "w_hh", "w", "b_ih", "b_hh", "b", "p")
"""The order of the native arrays after ``x, h, c`` (those the layout has)."""


class NumpyStepModel(Model):
    def __init__(self, step: Callable, sequence: Callable | None, native: Native) -> None:
        self.fn, self.sequence_fn = step, sequence
        self.weights = tuple(native[k] for k in ARGUMENTS if k in native)

    def step(self, x: np.ndarray, state: State | None = None) -> State:
        """No state is passed as ``h = c = None`` (only when the capabilities declare it optional)."""
        h, c = (None, None) if state is None else state
        return self.fn(x, h, c, *self.weights)

    def sequence(self, xs: np.ndarray, state: State | None = None, *, lengths: np.ndarray | None = None,
                 reverse: bool = False) -> tuple[np.ndarray, State]:
        if self.sequence_fn is None:
            return super().sequence(xs, state)
        h, c = (None, None) if state is None else state
        return self.sequence_fn(xs, h, c, *self.weights, **sequence_keywords(lengths, reverse))


class NumpyStepAdapter(Adapter):
    """A user's NumPy step, and the ``sequence(xs, h, c, *weights, [lengths=..., reverse=...])
    -> (hs, (h, c))`` it declares; no gradients."""

    requires = ("numpy",)

    def __init__(self, step: Callable, name: str = "numpy-step", layout: Layout = TORCH,
                 sequence: Callable | None = None,
                 capabilities: Capabilities = Capabilities(optional_state=False)) -> None:
        self.fn, self.name, self.layout = step, name, layout
        self.sequence_fn, self.capabilities = sequence, capabilities

    def load(self, native: Native, dtype: str) -> Model:
        return NumpyStepModel(self.fn, self.sequence_fn, native)
