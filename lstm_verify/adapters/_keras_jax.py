"""The ``keras-jax`` column's models: a shared layer per shape called with the weights
(:class:`~lstm_verify.adapters._keras.StatelessModel`), its sequence and its gradients (``jax.vjp``
through the layer's ``stateless_call``) each jitted per layer, compiled once per shape (the
layer's ``lax.scan`` takes its length from the input: a program per sequence length)."""

from __future__ import annotations

from functools import cache, partial
from typing import Callable

import jax
import keras

from lstm_verify.adapters._keras import StatelessModel, require_backend, run
from lstm_verify.adapters.base import Model
from lstm_verify.layouts import Native

require_backend("jax")


@cache
def compiled(layer: keras.layers.Layer) -> tuple[Callable, Callable]:
    """``layer``'s sequence and gradients (:data:`~lstm_verify.adapters._keras.Compiled`), each jitted."""
    def outputs(weights: list, xs: jax.Array, h0: jax.Array, c0: jax.Array) -> tuple:
        hs, (_, c) = run(layer, weights, xs, [h0, c0], None)
        return hs, c

    def grads(weights: list, xs: jax.Array, h0: jax.Array, c0: jax.Array, gh: jax.Array, gc: jax.Array) -> tuple:
        return jax.vjp(outputs, weights, xs, h0, c0)[1]((gh, gc))
    return jax.jit(partial(run, layer)), jax.jit(grads)


def load(natives: list[Native], dtype: str) -> Model:
    """One LSTM, or a bidirectional layer (two native sets)."""
    return StatelessModel(natives, dtype, compiled)
