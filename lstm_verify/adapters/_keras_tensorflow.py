"""The ``keras-tensorflow`` column's models: a shared layer per shape called with the weights
(:class:`~lstm_verify.adapters._keras.StatelessModel`), its sequence and its gradients
(``tf.GradientTape`` through the layer) each a ``tf.function`` traced once per layer (sizes, dtype,
form) and call signature: the weights are arguments, the batch and the sequence length are
unknown dimensions of the input signature, so the shapes the laws draw reuse one graph.
"""

from __future__ import annotations

from functools import cache
from typing import Callable

import keras
import tensorflow as tf

from lstm_verify.adapters._keras import StatelessModel, require_backend, run
from lstm_verify.adapters.base import Model
from lstm_verify.layouts import Native

require_backend("tensorflow")


def specs(layer: keras.layers.Layer) -> tuple[list[tf.TensorSpec], tf.TensorSpec, tf.TensorSpec]:
    """The signature's parts: ``layer``'s weights (their own shapes), time-major inputs (T, B, I) and
    one state (B, H), T and B unknown."""
    dtype = layer.compute_dtype
    weights = [tf.TensorSpec(w.shape, dtype) for w in layer.trainable_weights]
    lstm = layer.forward_layer if isinstance(layer, keras.layers.Bidirectional) else layer
    return (weights, tf.TensorSpec([None, None, lstm.cell.kernel.shape[0]], dtype),
            tf.TensorSpec([None, lstm.units], dtype))


@cache
def sequence(layer: keras.layers.Layer, stated: bool, masked: bool) -> Callable:
    """``layer``'s :func:`~lstm_verify.adapters._keras.run` traced, with initial states (as many as
    the layer's states) if ``stated`` and lengths if ``masked``, without them otherwise."""
    weights, xs, state = specs(layer)
    signature = [weights, xs, [state] * (4 if isinstance(layer, keras.layers.Bidirectional) else 2) if stated else None,
                 tf.TensorSpec([None], tf.int32) if masked else None]

    def call(*args: object) -> tuple:
        given = iter(args)
        return run(layer, next(given), next(given), next(given) if stated else None, next(given) if masked else None)
    return tf.function(call, input_signature=[s for s in signature if s is not None])


@cache
def gradients(layer: keras.layers.Layer) -> Callable:
    """The gradients through ``layer`` (:data:`~lstm_verify.adapters._keras.Compiled`), traced."""
    weights, xs, state = specs(layer)

    def grads(weights: list, xs: tf.Tensor, h0: tf.Tensor, c0: tf.Tensor, gh: tf.Tensor, gc: tf.Tensor) -> tuple:
        with tf.GradientTape() as tape:
            tape.watch((weights, xs, h0, c0))
            hs, (_, c) = run(layer, weights, xs, [h0, c0], None)
        return tape.gradient((hs, c), (weights, xs, h0, c0), output_gradients=(gh, gc),
                             unconnected_gradients=tf.UnconnectedGradients.ZERO)
    hs = tf.TensorSpec([None, None, state.shape[1]], state.dtype)
    return tf.function(grads, input_signature=[weights, xs, state, state, hs, state])


def functions(layer: keras.layers.Layer) -> tuple[Callable, Callable]:
    """``layer``'s sequence and gradients (:data:`~lstm_verify.adapters._keras.Compiled`)."""
    def call(weights: list, xs: object, state: list | None, lengths: object | None) -> tuple:
        args = [a for a in (state, lengths) if a is not None]
        return sequence(layer, state is not None, lengths is not None)(weights, xs, *args)
    return call, gradients(layer)


def load(natives: list[Native], dtype: str) -> Model:
    """One LSTM, or a bidirectional layer (two native sets)."""
    return StatelessModel(natives, dtype, functions)
