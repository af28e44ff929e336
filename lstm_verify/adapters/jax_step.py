"""JAX step functions: any ``cell(params, x, h, c) -> (h, c)`` gets a jitted step, a
``lax.scan`` sequence (or the library's own) and gradients by ``jax.vjp`` of the step. Used by
the built-in JAX, flax, equinox and haiku adapters and by ``--kind jax-step`` targets, whose
``step(params, x, (h, c))`` takes params named by :data:`~lstm_verify.layouts.TARGET_NAMES`.

``h`` and ``c`` are None when the caller gives no state: the cell then starts from the
library's own initial state (flax ``initialize_carry``, haiku ``initial_state``); a cell
without one belongs to an adapter that declares no ``optional_state``."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from functools import cached_property
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
    """The jitted step, sequence and gradients of one cell function, compiled once per shape.

    The sequence is ``sequence`` when given (a library's own sequence API), else a ``lax.scan``
    of the cell. Gradients come two ways, both ``jax`` autodiff of the cell:

    * :meth:`bptt`, what the laws check: back-propagation through time one step at a time, each
      step's pullback (``jax.vjp`` of the cell, from that step's input state) a jitted program
      compiled once per (B, I, H) whatever the sequence length, the cotangents carried from one
      step to the one before in the implementation's dtype, as a scan's transpose carries them.
      The gradient laws draw sequences of 1 to 1000 steps: a program per length cost a cold
      JAX-step verdict half its compiling.
    * :attr:`grads`, ``jax.grad`` through a ``lax.scan`` of the cell: what a training loop
      runs, one program per sequence length, timed by ``lstm-verify bench``.

    :attr:`step` and :attr:`pullback` run on ``device`` (``cpu``, the built-in adapters' device,
    or ``gpu:N``: :func:`placed`), their arguments placed there by ``in_shardings``: the laws call
    the step with NumPy arrays and BPTT with the JAX arrays of the step before, and without a
    placement given those are two programs of the same shape (measured: 12 of a cold float32
    verdict's 50 step programs compiled twice). :attr:`cell` is the plain function, for other
    devices."""

    def __init__(self, cell: Cell, sequence: Sequence | None = None, device: str = "cpu") -> None:
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

        def pullback(params: dict, x: jax.Array, h: jax.Array, c: jax.Array, gh: jax.Array, dh: jax.Array,
                     dc: jax.Array, acc: dict) -> tuple:
            _, vjp = jax.vjp(cell, params, x, h, c)
            dp, dx, dh, dc = vjp((gh + dh, dc))
            return jax.tree.map(jnp.add, acc, dp), dx, dh, dc

        self.cell, self._pullback, self.device = cell, pullback, device
        self.sequence = jax.jit(sequence or scan, static_argnames="reverse")
        self.grads = jax.jit(jax.grad(loss, argnums=(0, 1, 2, 3)))

    @cached_property
    def step(self) -> Callable:
        """The jitted cell on :attr:`device` (made on first use: naming a device starts JAX's
        backends, which on a GPU machine would take GPU memory at import)."""
        return jax.jit(self.cell, in_shardings=_placement(self.device))

    @cached_property
    def pullback(self) -> Callable:
        """One step back, jitted on :attr:`device`, ``(params, x, h, c, gh, dh, dc, acc) -> (acc + dparams,
        dx, dh, dc)``: the cotangents of the step's (h', c') are ``gh + dh`` and ``dc``."""
        return jax.jit(self._pullback, in_shardings=_placement(self.device))

    def precision(self) -> AbstractContextManager:
        """Where every call runs: float32 matmuls in float32 on a GPU, whose default is TF32
        (``jax.default_matmul_precision("highest")``; JAX makes it part of each program's key)."""
        return nullcontext() if self.device == "cpu" else jax.default_matmul_precision("highest")

    def bptt(self, params: dict, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray, gh: np.ndarray,
             gc: np.ndarray) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
        """Gradients of ``sum_t <gh_t, h_t> + <gc, c_T>`` with respect to (params, xs, h0, c0), one
        step at a time. What is carried from step to step stays a JAX array, so the steps queue
        without waiting."""
        states = [(h0, c0)]
        for x in xs[:-1]:
            states.append(self.step(params, x, *states[-1]))
        acc = jax.tree.map(lambda p: np.zeros(p.shape, p.dtype), params)
        dh, dc, dxs = np.zeros_like(h0), gc, []
        for t in reversed(range(len(xs))):
            acc, dx, dh, dc = self.pullback(params, xs[t], *states[t], gh[t], dh, dc, acc)
            dxs.append(dx)
        return (jax.tree.map(np.asarray, acc), np.stack([np.asarray(dx) for dx in dxs[::-1]]),
                np.asarray(dh), np.asarray(dc))


def _placement(device: str) -> jax.sharding.Sharding:
    platform, _, index = device.partition(":")
    return jax.sharding.SingleDeviceSharding(jax.devices(platform)[int(index or 0)])


def placed(native: Native, dtype: str, device: str = "cpu") -> dict[str, jax.Array]:
    """``native`` as JAX arrays of ``dtype`` committed to ``device`` (``cpu``, ``gpu:N``), so that
    computations on them run there: on the CPU (the built-in adapters' device) even when JAX has a
    GPU, whose float32 matmuls default to TF32."""
    return jax.device_put({k: np.asarray(v, numpy_dtype(dtype)) for k, v in native.items()}, _placement(device))


class JaxModel(Model):
    """Native parameters (renamed by ``names``) held as JAX arrays of ``dtype``, on the functions'
    device. No state is passed on as None: the library's own initial state, never zeros filled in
    here. Inputs and states go in as the kit's NumPy arrays, which the jitted functions place on
    that device with the parameters (a ``jax.device_put`` of them cost 200 µs a call, seven times a
    jitted step's own cost)."""

    def __init__(self, fns: JaxFunctions, native: Native, dtype: str, names: dict[str, str],
                 has_sequence: bool) -> None:
        self.fns, self.dtype, self.names, self.has_sequence = fns, dtype, names, has_sequence
        self.params = {names[k]: v for k, v in placed(native, dtype, fns.device).items()}

    @staticmethod
    def _state(state: State | None) -> State | tuple[None, None]:
        return (None, None) if state is None else state

    def step(self, x: np.ndarray, state: State | None = None) -> State:
        with self.fns.precision():
            h, c = self.fns.step(self.params, x, *self._state(state))
        return np.asarray(h), np.asarray(c)

    def sequence(self, xs: np.ndarray, state: State | None = None, *, lengths: np.ndarray | None = None,
                 reverse: bool = False) -> tuple[np.ndarray, State]:
        if not self.has_sequence:
            return super().sequence(xs, state)
        with self.fns.precision():
            hs, (h, c) = self.fns.sequence(self.params, xs, *self._state(state), lengths, reverse=reverse)
        return np.asarray(hs), (np.asarray(h), np.asarray(c))

    def grads(self, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray,
              gh: np.ndarray, gc: np.ndarray) -> NativeGrads:
        dtype = numpy_dtype(self.dtype)
        with self.fns.precision():
            gp, gx, gh0, gc0 = self.fns.bptt(self.params, *(np.asarray(a, dtype) for a in (xs, h0, c0, gh, gc)))
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
    is the sequence API; gradients are ``jax.vjp`` of the step, chained back through time
    (:meth:`JaxFunctions.bptt`). Everything runs on ``device``: ``cpu`` or ``gpu:N``."""

    def __init__(self, step: Callable, name: str = "jax-step", layout: Layout = TORCH,
                 sequence: Callable | None = None,
                 capabilities: Capabilities = Capabilities(gradients=True, training=True, optional_state=False,
                                                           dtypes=STORAGE),
                 device: str = "cpu") -> None:
        self.name, self.layout, self.capabilities = name, layout, capabilities

        def cell(params: dict, x: jax.Array, h: jax.Array | None, c: jax.Array | None) -> tuple:
            return tuple(step(params, x, None if h is None else (h, c)))

        def library_sequence(params: dict, xs: jax.Array, h: jax.Array | None, c: jax.Array | None,
                             lengths: jax.Array | None = None, reverse: bool = False) -> tuple:
            hs, (h, c) = sequence(params, xs, None if h is None else (h, c), **sequence_keywords(lengths, reverse))
            return hs, (h, c)
        self.fns = JaxFunctions(cell, library_sequence if sequence else None, device)

    def load(self, native: Native, dtype: str) -> Model:
        return JaxModel(self.fns, native, dtype, TARGET_NAMES, has_sequence=self.capabilities.sequence)
