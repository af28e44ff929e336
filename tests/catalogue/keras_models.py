"""A Keras LSTM on TensorFlow ported with two gate blocks swapped (``--kind adapter``, run with
``KERAS_BACKEND=tensorflow``): the built-in ``keras-tensorflow`` column given its kernel, recurrent
kernel and bias with the cell-candidate and output blocks in each other's place, as a port from a
library storing i, f, o, c that kept its block order would."""

from __future__ import annotations

import numpy as np

from lstm_verify.adapters.base import Model
from lstm_verify.adapters.keras_lstm import KerasAdapter
from lstm_verify.layouts import Native


def swapped(native: Native) -> Native:
    """``native`` with the third and fourth gate blocks of every array exchanged."""
    return {k: np.concatenate([np.split(v, 4, axis=-1)[b] for b in (0, 1, 3, 2)], axis=-1) for k, v in native.items()}


class SwappedGateBlocks(KerasAdapter):
    def __init__(self) -> None:
        super().__init__("tensorflow")
        self.name = "keras-swapped-gate-blocks"

    def load(self, native: Native, dtype: str) -> Model:
        return super().load(swapped(native), dtype)

    def load_stack(self, layers: list[list[Native]], dtype: str) -> Model:
        return super().load_stack([[swapped(n) for n in layer] for layer in layers], dtype)
