"""The ``keras-tensorflow`` column's models: a shared layer per shape called with the weights
(:class:`~lstm_verify.adapters._keras.StatelessModel`), gradients by ``tf.GradientTape`` through
the layer. Eager, not a ``tf.function``: the laws draw a new (B, I, H) almost every example, and a
trace per shape cost more than it saved (measured under load on 2 cores, keras-tensorflow-float32:
test_sequence_agrees_with_reference 17.3 s traced, 7.9 s eager; test_gradients_agree_with_bptt
31.6 s traced, 4.5 s eager).
"""

from __future__ import annotations

from functools import cache, partial
from typing import Callable

import keras
import tensorflow as tf

from lstm_verify.adapters._keras import StatelessModel, require_backend, run
from lstm_verify.adapters.base import Model
from lstm_verify.layouts import Native

require_backend("tensorflow")


@cache
def functions(layer: keras.layers.Layer) -> tuple[Callable, Callable]:
    """``layer``'s sequence and gradients (:data:`~lstm_verify.adapters._keras.Compiled`)."""
    def grads(weights: list, xs: tf.Tensor, h0: tf.Tensor, c0: tf.Tensor, gh: tf.Tensor, gc: tf.Tensor) -> tuple:
        weights, xs, h0, c0 = tf.nest.map_structure(tf.convert_to_tensor, (weights, xs, h0, c0))
        with tf.GradientTape() as tape:
            tape.watch((weights, xs, h0, c0))
            hs, (_, c) = run(layer, weights, xs, [h0, c0], None)
        return tape.gradient((hs, c), (weights, xs, h0, c0), output_gradients=(gh, gc),
                             unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return partial(run, layer), grads


def load(natives: list[Native], dtype: str) -> Model:
    """One LSTM, or a bidirectional layer (two native sets)."""
    return StatelessModel(natives, dtype, functions)
