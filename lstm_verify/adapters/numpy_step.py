"""A user's NumPy step ``step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh) -> (h, c)``."""

from __future__ import annotations

from typing import Callable

import numpy as np

from lstm_verify.adapters.base import Adapter, Capabilities, Model, State
from lstm_verify.layouts import TORCH, Layout, Native


class NumpyStepModel(Model):
    def __init__(self, step: Callable, native: Native) -> None:
        self.fn = step
        self.weights = (native["w_ih"], native["w_hh"], native["b_ih"], native["b_hh"])

    def step(self, x: np.ndarray, state: State | None = None) -> State:
        """``state`` is always given: the kind declares no optional state."""
        return self.fn(x, state[0], state[1], *self.weights)


class NumpyStepAdapter(Adapter):
    requires = ("numpy",)
    capabilities = Capabilities(optional_state=False)

    def __init__(self, step: Callable, name: str = "numpy-step", layout: Layout = TORCH) -> None:
        self.fn, self.name, self.layout = step, name, layout

    def load(self, native: Native, dtype: str) -> Model:
        return NumpyStepModel(self.fn, native)
