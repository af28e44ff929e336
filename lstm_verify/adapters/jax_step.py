"""JAX step functions: any ``cell(params, x, h, c) -> (h, c)`` gets a jitted step, a
``lax.scan`` sequence (or the library's own) and ``jax.grad`` gradients. Used by the built-in
JAX, flax, equinox and haiku adapters and by ``--kind jax-step`` targets, whose
``step(params, x, (h, c))`` takes params named by :data:`~lstm_verify.layouts.TARGET_NAMES`.

``h`` and ``c`` are None when the caller gives no state: the cell then starts from the
library's own initial state (flax ``initialize_carry``, haiku ``initial_state``); a cell
without one belongs to an adapter that declares no ``optional_state``."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from lstm_verify.adapters.base import Adapter, Capabilities, Model, NativeGrads, State, sequence_keywords
from lstm_verify.layouts import TARGET_NAMES, TORCH, Layout, Native
from lstm_verify.dtypes import STORAGE, numpy_dtype

Cell = Callable[[dict, jax.Array, jax.Array | None, jax.Array | None], tuple[jax.Array, jax.Array]]
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
    return jax.device_put({k: np.asarray(v, numpy_dtype(dtype)) for k, v in native.items()}, jax.devices("cpu")[0])


class JaxModel(Model):
    """Native parameters (renamed by ``names``) held as JAX arrays of ``dtype``, on the CPU. No
    state is passed on as None: the library's own initial state, never zeros filled in here.
    Inputs and states go in as the kit's NumPy arrays, which follow the parameters to the CPU
    (a ``jax.device_put`` of each cost 150 µs a call, seven times a jitted step's own cost)."""

    def __init__(self, fns: JaxFunctions, native: Native, dtype: str, names: dict[str, str],
                 has_sequence: bool) -> None:
        self.fns, self.dtype, self.names, self.has_sequence = fns, dtype, names, has_sequence
        self.params = {names[k]: v for k, v in on_cpu(native, dtype).items()}

    @staticmethod
    def _state(state: State | None) -> State | tuple[None, None]:
        return (None, None) if state is None else state

    def step(self, x: np.ndarray, state: State | None = None) -> State:
        h, c = self.fns.step(self.params, x, *self._state(state))
        return np.asarray(h), np.asarray(c)

    def sequence(self, xs: np.ndarray, state: State | None = None, *, lengths: np.ndarray | None = None,
                 reverse: bool = False) -> tuple[np.ndarray, State]:
        if not self.has_sequence:
            return super().sequence(xs, state)
        hs, (h, c) = self.fns.sequence(self.params, xs, *self._state(state), lengths, reverse=reverse)
        return np.asarray(hs), (np.asarray(h), np.asarray(c))

    def grads(self, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray,
              gh: np.ndarray, gc: np.ndarray) -> NativeGrads:
        dtype = numpy_dtype(self.dtype)
        gp, gx, gh0, gc0 = self.fns.grads(self.params, *(np.asarray(a, dtype) for a in (xs, h0, c0, gh, gc)))
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


class JaxStepAdapter(JaxAdapterBase):
    """A user's ``step(params, x, (h, c)) -> (h, c)``, ``params`` the layout's native arrays named by
    :data:`~lstm_verify.layouts.TARGET_NAMES`; the state is None when the capabilities declare it
    optional. A declared ``sequence(params, xs, (h, c), [lengths=..., reverse=...]) -> (hs, (h, c))``
    is the sequence API; gradients always go through a ``lax.scan`` of the step."""

    def __init__(self, step: Callable, name: str = "jax-step", layout: Layout = TORCH,
                 sequence: Callable | None = None,
                 capabilities: Capabilities = Capabilities(gradients=True, training=True, optional_state=False,
                                                           dtypes=STORAGE)
                 ) -> None:
        self.name, self.layout, self.capabilities = name, layout, capabilities

        def cell(params: dict, x: jax.Array, h: jax.Array | None, c: jax.Array | None) -> tuple:
            return tuple(step(params, x, None if h is None else (h, c)))

        def library_sequence(params: dict, xs: jax.Array, h: jax.Array | None, c: jax.Array | None,
                             lengths: jax.Array | None = None, reverse: bool = False) -> tuple:
            hs, (h, c) = sequence(params, xs, None if h is None else (h, c), **sequence_keywords(lengths, reverse))
            return hs, (h, c)
        self.fns = JaxFunctions(cell, library_sequence if sequence else None)

    def load(self, native: Native, dtype: str) -> Model:
        return JaxModel(self.fns, native, dtype, TARGET_NAMES, has_sequence=self.capabilities.sequence)
