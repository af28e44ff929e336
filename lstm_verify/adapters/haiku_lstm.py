"""DeepMind Haiku ``hk.LSTM``, stepped and unrolled with ``hk.dynamic_unroll``.

``hk.LSTM`` (haiku/_src/recurrent.py) runs one ``hk.Linear(4H)`` over ``[x, h]``: ``w``
(I + H, 4H), ``b`` (4H), split into gates i, g, f, o, and adds 1 to the forget gate's
pre-activation at run time (``sigmoid(f + 1)``): :data:`~lstm_verify.layouts.HAIKU`, the first
library the kit checks that has a run-time forget offset. Inputs may be unbatched (x (I,), state
(H,)); without a state the core starts from its ``initial_state``. ``dynamic_unroll`` is a
``lax.scan`` (``reverse=True`` returns outputs in input time order); it takes no lengths.
Gradients by ``jax.vjp`` of the step, chained back through time. Parameters in any storage
dtype; the core's ``initial_state`` is in JAX's default dtype whatever the input's (a known
difference).
"""

from __future__ import annotations

from typing import Callable

import haiku as hk
import jax

from lstm_verify.adapters.base import Capabilities, Model
from lstm_verify.adapters.jax_step import JaxAdapterBase, JaxFunctions, JaxModel
from lstm_verify.dtypes import STORAGE
from lstm_verify.expected import Expected
from lstm_verify.layouts import HAIKU, Native


def _apply(fn: Callable, params: dict, *args: jax.Array | None) -> tuple:
    """Run ``fn`` (which builds ``hk.LSTM``) with the HAIKU-layout ``params`` as the core's Linear."""
    tree = {"lstm/linear": {"w": params["w"], "b": params["b"]}}
    return hk.without_apply_rng(hk.transform(fn)).apply(tree, *args)


def _state(lstm: hk.LSTM, x: jax.Array, h: jax.Array | None, c: jax.Array | None) -> hk.LSTMState:
    """The given state, or the core's own initial state for x's batch (None when unbatched)."""
    return lstm.initial_state(x.shape[0] if x.ndim == 2 else None) if h is None else hk.LSTMState(h, c)


def cell(params: dict, x: jax.Array, h: jax.Array | None, c: jax.Array | None) -> tuple[jax.Array, jax.Array]:
    """One step of ``hk.LSTM``."""
    def step(x: jax.Array, h: jax.Array | None, c: jax.Array | None) -> tuple[jax.Array, jax.Array]:
        lstm = hk.LSTM(len(params["b"]) // 4)
        _, state = lstm(x, _state(lstm, x, h, c))
        return state.hidden, state.cell
    return _apply(step, params, x, h, c)


def sequence(params: dict, xs: jax.Array, h: jax.Array | None, c: jax.Array | None, lengths: jax.Array | None,
             reverse: bool) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    """``hk.dynamic_unroll`` of ``hk.LSTM`` over xs (T, B, I), time-major."""
    if lengths is not None:
        raise NotImplementedError("hk.dynamic_unroll takes no sequence lengths")

    def unroll(xs: jax.Array, h: jax.Array | None, c: jax.Array | None) -> tuple:
        lstm = hk.LSTM(len(params["b"]) // 4)
        hs, state = hk.dynamic_unroll(lstm, xs, _state(lstm, xs[0], h, c), time_major=True, reverse=reverse)
        return hs, (state.hidden, state.cell)
    return _apply(unroll, params, xs, h, c)


_FUNCTIONS = JaxFunctions(cell, sequence)


class HaikuAdapter(JaxAdapterBase):
    name = "haiku"
    requires = ("haiku", "jax")
    distributions = ("dm-haiku", "jax")
    layout = HAIKU
    capabilities = Capabilities(gradients=True, training=True, sequence=True, unbatched=True, reverse=True,
                                dtypes=STORAGE)

    def known_differences(self, dtype: str) -> list[Expected]:
        default = "float64" if jax.config.jax_enable_x64 else "float32"  # jnp.zeros' dtype
        if dtype == default:
            return []
        return [Expected("test_dtype_preserved", versions="dm-haiku==0.0.17",
                         match=rf"^\S+ from the default state\.dtype={default}, but should be {dtype}", reason=(
            f"hk.LSTM.initial_state makes its zeros in JAX's default dtype, {default} here "
            f"({'x64 on' if default == 'float64' else 'x64 off'}), whatever the input's dtype "
            f"(haiku/_src/recurrent.py: jnp.zeros([self.hidden_size])), so a {dtype} LSTM called without a "
            f"state returns {default} h and c; with a state given it keeps {dtype}. Measured with "
            f"dm-haiku 0.0.17: h from the default state.dtype={default}, but should be {dtype}"))]

    def load(self, native: Native, dtype: str) -> Model:
        return JaxModel(_FUNCTIONS, native, dtype, {k: k for k in native}, has_sequence=True)
