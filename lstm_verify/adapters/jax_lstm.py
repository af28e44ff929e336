"""JAX: a jitted step, a ``lax.scan`` sequence (``reverse=True`` for reverse mode) and ``jax.vjp``;
float64 only under x64. The cell is the kit's own, so it claims no default state: zeros filled in
by the kit would test the kit."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from lstm_verify.adapters.base import Capabilities, Model
from lstm_verify.adapters.jax_step import JaxAdapterBase, JaxFunctions, JaxModel
from lstm_verify.dtypes import STORAGE
from lstm_verify.layouts import TORCH, Native


def cell(params: dict, x: jax.Array, h: jax.Array, c: jax.Array) -> tuple[jax.Array, jax.Array]:
    """One LSTM step in torch's layout."""
    z = x @ params["w_ih"].T + params["b_ih"] + h @ params["w_hh"].T + params["b_hh"]
    i, f, g, o = jnp.split(z, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    return jax.nn.sigmoid(o) * jnp.tanh(c), c


_FUNCTIONS = JaxFunctions(cell)


class JaxAdapter(JaxAdapterBase):
    name = "jax"
    layout = TORCH
    capabilities = Capabilities(gradients=True, training=True, sequence=True, unbatched=True, reverse=True,
                                dtypes=STORAGE,
                                optional_state=False)

    def load(self, native: Native, dtype: str) -> Model:
        return JaxModel(_FUNCTIONS, native, dtype, {k: k for k in native}, has_sequence=True)
