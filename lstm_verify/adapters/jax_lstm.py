"""JAX: a jitted step, a ``lax.scan`` sequence and ``jax.grad``; float64 only under x64."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from lstm_verify.adapters.base import Adapter, Capabilities, Model, NativeGrads, State
from lstm_verify.layouts import TORCH, Native


def _cell(params: dict, x: jax.Array, h: jax.Array, c: jax.Array) -> tuple[jax.Array, jax.Array]:
    z = x @ params["w_ih"].T + params["b_ih"] + h @ params["w_hh"].T + params["b_hh"]
    i, f, g, o = jnp.split(z, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    return jax.nn.sigmoid(o) * jnp.tanh(c), c


def _scan(params: dict, xs: jax.Array, h: jax.Array, c: jax.Array) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    def body(state: tuple, x: jax.Array) -> tuple:
        state = _cell(params, x, *state)
        return state, state[0]
    state, hs = jax.lax.scan(body, (h, c), xs)
    return hs, state


def _loss(params: dict, xs: jax.Array, h0: jax.Array, c0: jax.Array, gh: jax.Array, gc: jax.Array) -> jax.Array:
    hs, (_, c) = _scan(params, xs, h0, c0)
    return jnp.sum(hs * gh) + jnp.sum(c * gc)


_step = jax.jit(_cell)
_sequence = jax.jit(_scan)
_grads = jax.jit(jax.grad(_loss, argnums=(0, 1, 2, 3)))


class JaxModel(Model):
    def __init__(self, native: Native, dtype: str) -> None:
        self.params = {k: jnp.asarray(v, dtype) for k, v in native.items()}
        self.dtype = dtype
        self.hidden_size = native["w_hh"].shape[1]

    def _state(self, batch_shape: tuple[int, ...], state: State | None) -> tuple[jax.Array, jax.Array]:
        if state is None:
            zeros = jnp.zeros((*batch_shape, self.hidden_size), self.dtype)
            return zeros, zeros
        return jnp.asarray(state[0]), jnp.asarray(state[1])

    def step(self, x: np.ndarray, state: State | None = None) -> State:
        h, c = _step(self.params, jnp.asarray(x), *self._state(x.shape[:-1], state))
        return np.asarray(h), np.asarray(c)

    def sequence(self, xs: np.ndarray, state: State | None = None) -> tuple[np.ndarray, State]:
        hs, (h, c) = _sequence(self.params, jnp.asarray(xs), *self._state(xs.shape[1:-1], state))
        return np.asarray(hs), (np.asarray(h), np.asarray(c))

    def grads(self, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray,
              gh: np.ndarray, gc: np.ndarray) -> NativeGrads:
        dt = self.dtype
        gp, gx, gh0, gc0 = _grads(self.params, *(jnp.asarray(a, dt) for a in (xs, h0, c0, gh, gc)))
        return NativeGrads(np.asarray(gx), np.asarray(gh0), np.asarray(gc0),
                           {k: np.asarray(v) for k, v in gp.items()})


class JaxAdapter(Adapter):
    name = "jax"
    requires = ("jax",)
    layout = TORCH
    capabilities = Capabilities(gradients=True, training=True, sequence=True, unbatched=True)

    def unsupported(self, dtype: str) -> str | None:
        if dtype == "float64" and not jax.config.jax_enable_x64:
            return "JAX x64 is off: float64 would silently compute in float32 (set JAX_ENABLE_X64=1)"
        return super().unsupported(dtype)

    def load(self, native: Native, dtype: str) -> Model:
        return JaxModel(native, dtype)
