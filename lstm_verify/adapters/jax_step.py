"""JAX step functions: any ``cell(params, x, h, c) -> (h, c)`` gets a jitted step, a
``lax.scan`` sequence (or the library's own) and ``jax.grad`` gradients. Used by the built-in
JAX, flax and equinox adapters and by ``--kind jax-step`` targets, whose
``step(params, x, (h, c))`` takes torch-named params."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from lstm_verify.adapters.base import Adapter, Capabilities, Model, NativeGrads, State
from lstm_verify.layouts import TORCH, Layout, Native

Cell = Callable[[dict, jax.Array, jax.Array, jax.Array], tuple[jax.Array, jax.Array]]
Sequence = Callable[..., tuple[jax.Array, tuple[jax.Array, jax.Array]]]
"""``sequence(params, xs, h, c, lengths, reverse) -> (hs, (h, c))``, as :meth:`Model.sequence`."""


class JaxFunctions:
    """The jitted step, sequence and gradient of one cell function, compiled once per shape.

    The sequence is ``sequence`` when given (a library's own sequence API), else a ``lax.scan``
    of the cell; the gradients always back-propagate through the scan of the cell."""

    def __init__(self, cell: Cell, sequence: Sequence | None = None) -> None:
        def scan(params: dict, xs: jax.Array, h: jax.Array, c: jax.Array, lengths: jax.Array | None = None,
                 reverse: bool = False) -> tuple:
            if lengths is not None:
                raise NotImplementedError("a lax.scan of the cell takes no lengths")

            def body(state: tuple, x: jax.Array) -> tuple:
                state = cell(params, x, *state)
                return state, state[0]
            state, hs = jax.lax.scan(body, (h, c), xs, reverse=reverse)
            return hs, state

        def loss(params: dict, xs: jax.Array, h0: jax.Array, c0: jax.Array, gh: jax.Array, gc: jax.Array):
            hs, (_, c) = scan(params, xs, h0, c0)
            return jnp.sum(hs * gh) + jnp.sum(c * gc)

        self.step = jax.jit(cell)
        self.sequence = jax.jit(sequence or scan, static_argnames="reverse")
        self.grads = jax.jit(jax.grad(loss, argnums=(0, 1, 2, 3)))


def on_cpu(native: Native, dtype: str) -> dict[str, jax.Array]:
    """``native`` as JAX arrays of ``dtype`` committed to the CPU, so that computations on them run
    there (the adapters' device) even when JAX has a GPU, whose float32 matmuls default to TF32."""
    return jax.device_put({k: np.asarray(v, dtype) for k, v in native.items()}, jax.devices("cpu")[0])


class JaxModel(Model):
    """Native parameters (renamed by ``names``) held as JAX arrays of ``dtype``, on the CPU."""

    def __init__(self, fns: JaxFunctions, native: Native, dtype: str, names: dict[str, str],
                 has_sequence: bool) -> None:
        self.fns, self.dtype, self.names, self.has_sequence = fns, dtype, names, has_sequence
        self.params = {names[k]: v for k, v in on_cpu(native, dtype).items()}
        self.hidden_size = len(native["b_ih" if "b_ih" in native else "b"]) // 4

    def _state(self, batch_shape: tuple[int, ...], state: State | None) -> tuple[jax.Array, jax.Array]:
        if state is None:
            zeros = jnp.zeros((*batch_shape, self.hidden_size), self.dtype)
            return zeros, zeros
        return jnp.asarray(state[0]), jnp.asarray(state[1])

    def step(self, x: np.ndarray, state: State | None = None) -> State:
        h, c = self.fns.step(self.params, jnp.asarray(x), *self._state(x.shape[:-1], state))
        return np.asarray(h), np.asarray(c)

    def sequence(self, xs: np.ndarray, state: State | None = None, *, lengths: np.ndarray | None = None,
                 reverse: bool = False) -> tuple[np.ndarray, State]:
        if not self.has_sequence:
            return super().sequence(xs, state)
        hs, (h, c) = self.fns.sequence(self.params, jnp.asarray(xs), *self._state(xs.shape[1:-1], state),
                                       None if lengths is None else jnp.asarray(lengths), reverse=reverse)
        return np.asarray(hs), (np.asarray(h), np.asarray(c))

    def grads(self, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray,
              gh: np.ndarray, gc: np.ndarray) -> NativeGrads:
        gp, gx, gh0, gc0 = self.fns.grads(self.params, *(jnp.asarray(a, self.dtype) for a in (xs, h0, c0, gh, gc)))
        back = {v: k for k, v in self.names.items()}
        return NativeGrads(np.asarray(gx), np.asarray(gh0), np.asarray(gc0),
                           {back[k]: np.asarray(v) for k, v in gp.items()})


class JaxAdapterBase(Adapter):
    """What every JAX adapter shares: the library, and float64 only under x64."""

    requires = ("jax",)

    def unsupported(self, dtype: str) -> str | None:
        if dtype == "float64" and not jax.config.jax_enable_x64:
            return "JAX x64 is off: float64 would silently compute in float32 (set JAX_ENABLE_X64=1)"
        return super().unsupported(dtype)


TORCH_NAMES = {"w_ih": "weight_ih", "w_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh"}


class JaxStepAdapter(JaxAdapterBase):
    """A user's ``step(params, x, (h, c)) -> (h, c)``; params named as in nn.LSTMCell."""

    capabilities = Capabilities(gradients=True, training=True, optional_state=False)

    def __init__(self, step: Callable, name: str = "jax-step", layout: Layout = TORCH) -> None:
        self.name, self.layout = name, layout
        self.fns = JaxFunctions(lambda params, x, h, c: tuple(step(params, x, (h, c))))

    def load(self, native: Native, dtype: str) -> Model:
        return JaxModel(self.fns, native, dtype, TORCH_NAMES, has_sequence=False)
