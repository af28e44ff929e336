"""The ``keras-tensorflow`` column's models: a shared layer per shape called with the weights
(:class:`~lstm_verify.adapters._keras.StatelessModel`), its sequence and its gradients
(``tf.GradientTape`` through the layer) each a ``tf.function`` per layer, traced once per layer,
batch and dtype whatever the sequence length (``reduce_retracing`` relaxes the shapes that change).
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
def traced(layer: keras.layers.Layer) -> tuple[Callable, Callable]:
    """``layer``'s sequence and gradients (:data:`~lstm_verify.adapters._keras.Compiled`), each a ``tf.function``."""
    def grads(weights: list, xs: tf.Tensor, h0: tf.Tensor, c0: tf.Tensor, gh: tf.Tensor, gc: tf.Tensor) -> tuple:
        with tf.GradientTape() as tape:
            tape.watch((weights, xs, h0, c0))
            hs, (_, c) = run(layer, weights, xs, [h0, c0], None)
        return tape.gradient((hs, c), (weights, xs, h0, c0), output_gradients=(gh, gc),
                             unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return tf.function(partial(run, layer), reduce_retracing=True), tf.function(grads, reduce_retracing=True)


def load(natives: list[Native], dtype: str) -> Model:
    """One LSTM, or a bidirectional layer (two native sets)."""
    return StatelessModel(natives, dtype, traced)
