"""What the Keras columns share on whichever back end this process's Keras has: building the
layers, and (TensorFlow, JAX) a model that calls one layer per shape with its weights given
(``stateless_call``), so that the back end traces or compiles it once per shape, not once per
model. Imported only by :meth:`~lstm_verify.adapters.keras_lstm.KerasAdapter.load`, in a process
whose ``KERAS_BACKEND`` is the column's; everything runs on the CPU (``keras.device``): on a GPU
Keras would take cuDNN, in TF32. ``TF_CPP_MIN_LOG_LEVEL`` defaults to 3 before Keras is imported
(it imports TensorFlow, when installed, on every back end).
"""

from __future__ import annotations

import os
from functools import cache
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from lstm_verify.adapters.base import NativeGrads, SequenceModel, State  # noqa: E402
from lstm_verify.dtypes import numpy_dtype  # noqa: E402
from lstm_verify.layouts import Native  # noqa: E402

NAMES = ("w_ih", "w_hh", "b")
"""The native names of an LSTM's ``trainable_variables``: kernel, recurrent kernel, bias."""


def require_backend(backend: str) -> None:
    """Raise unless Keras runs on ``backend`` in this process (it read ``KERAS_BACKEND`` at import)."""
    if keras.backend.backend() != backend:
        raise RuntimeError(f"keras-{backend} needs Keras on {backend}; this process imported it on "
                           f"{keras.backend.backend()} (KERAS_BACKEND is read once, at import)")


@keras.saving.register_keras_serializable("lstm_verify")
class Zeros(keras.initializers.Initializer):
    """NumPy zeros in the layer's dtype: Keras's own ``zeros`` runs a back-end op per shape, which JAX
    compiles (three programs per layer built, a tenth of a cold keras-jax column's compiling).
    Serializable, for ``Bidirectional``'s copy of its layer."""

    def __call__(self, shape: tuple[int, ...], dtype: str | None = None) -> np.ndarray:
        return np.zeros(shape, numpy_dtype(dtype or "float32"))


def lstm_layer(input_size: int, hidden_size: int, dtype: str, **options: object) -> keras.layers.LSTM:
    """A built ``keras.layers.LSTM`` on the CPU, its weights not yet set: built with zeros, since
    the default orthogonal initializer needs a QR factorization, which torch has no float16 or
    bfloat16 CPU kernel for (``"geqrf_cpu" not implemented for 'BFloat16'``): a half-precision
    Keras LSTM with default initializers cannot be built on the torch backend's CPU. No forget
    offset in the bias it is built with (``unit_forget_bias``): every call gives the weights."""
    with keras.device("cpu"):
        layer = keras.layers.LSTM(hidden_size, return_sequences=True, return_state=True, dtype=dtype,
                                  kernel_initializer=Zeros(), recurrent_initializer=Zeros(), bias_initializer=Zeros(),
                                  unit_forget_bias=False, **options)
        layer.build((None, None, input_size))
    return layer


def bidirectional_layer(input_size: int, hidden_size: int, dtype: str) -> keras.layers.Bidirectional:
    """A built ``keras.layers.Bidirectional`` of two LSTMs: weights forward then backward."""
    with keras.device("cpu"):
        layer = keras.layers.Bidirectional(lstm_layer(input_size, hidden_size, dtype), dtype=dtype)
        layer.build((None, None, input_size))
    return layer


def run(layer: keras.layers.Layer, weights: list, xs: object, state: list | None, lengths: object | None
        ) -> tuple[object, list]:
    """``layer`` holding ``weights`` over time-major xs (T, B, I): time-major outputs and the final
    states, in the back end's tensors (traceable: no NumPy)."""
    options: dict[str, object] = {"initial_state": state}
    if lengths is not None:
        options["mask"] = keras.ops.arange(keras.ops.shape(xs)[0])[None, :] < keras.ops.expand_dims(lengths, 1)
    seeds = [v.value for v in layer.non_trainable_variables]  # the dropout's seed state: unused, no dropout
    (hs, *states), _ = layer.stateless_call(weights, seeds, keras.ops.swapaxes(xs, 0, 1), **options)
    return keras.ops.swapaxes(hs, 0, 1), states


@cache
def shared_layer(input_size: int, hidden_size: int, dtype: str, form: str) -> keras.layers.Layer:
    """One layer per sizes, dtype and form (``forward``, ``backward``: ``go_backwards``,
    ``bidirectional``), its weights given at each call."""
    if form == "bidirectional":
        return bidirectional_layer(input_size, hidden_size, dtype)
    return lstm_layer(input_size, hidden_size, dtype, go_backwards=form == "backward")


Compiled = Callable[[keras.layers.Layer], tuple[Callable, Callable]]
"""A back end's compiled functions of one layer (made once per layer): its :func:`run`, ``(weights,
xs, state, lengths) -> (hs, states)``, and the gradients of ``sum_t <gh_t, h_t> + <gc, c_T>``
through it, ``(weights, xs, h0, c0, gh, gc) -> (d weights, dx, dh0, dc0)``."""


class StatelessModel(SequenceModel):
    """Native weights (one LSTM's, or a bidirectional layer's, forward then backward) called through
    the shared layer of their shape by the back end's ``compiled`` functions. States (2, B, H)
    and outputs (T, B, 2H) for a bidirectional layer, whose Keras states are ``[h_f, c_f, h_b, c_b]``."""

    def __init__(self, natives: list[Native], dtype: str, compiled: Compiled) -> None:
        self.weights = [native[k] for native in natives for k in NAMES]
        self.bidirectional = len(natives) == 2
        self.input_size, self.hidden_size = natives[0]["w_ih"].shape[0], natives[0]["w_hh"].shape[0]
        self.dtype, self.compiled = dtype, compiled

    def layer(self, form: str) -> keras.layers.Layer:
        return shared_layer(self.input_size, self.hidden_size, self.dtype, form)

    def sequence(self, xs: np.ndarray, state: State | None = None, *, lengths: np.ndarray | None = None,
                 reverse: bool = False) -> tuple[np.ndarray, State]:
        if self.bidirectional and reverse:
            raise NotImplementedError("a bidirectional layer has no reverse mode")
        form = "bidirectional" if self.bidirectional else "backward" if reverse else "forward"
        initial = None if state is None else [s[d] for d in (0, 1) for s in state] if self.bidirectional else list(state)
        with keras.device("cpu"):
            hs, states = self.compiled(self.layer(form))[0](self.weights, xs, initial,
                                                            None if lengths is None else np.asarray(lengths, np.int32))
        hs, *states = (keras.ops.convert_to_numpy(t) for t in (hs, *states))
        if reverse:  # go_backwards returns its outputs in processing order
            hs = hs[::-1]
        if self.bidirectional:
            return hs, (np.stack(states[0::2]), np.stack(states[1::2]))
        return hs, (states[0], states[1])

    def grads(self, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray,
              gh: np.ndarray, gc: np.ndarray) -> NativeGrads:
        with keras.device("cpu"):
            dw, dx, dh0, dc0 = self.compiled(self.layer("forward"))[1](self.weights, xs, h0, c0, gh, gc)
        numpy = keras.ops.convert_to_numpy
        return NativeGrads(numpy(dx), numpy(dh0), numpy(dc0), {k: numpy(g) for k, g in zip(NAMES, dw)})
