"""equinox ``eqx.nn.LSTMCell``: ``weight_ih`` (4H, I), ``weight_hh`` (4H, H) and one ``bias`` (4H),
gate blocks i, f, g, o (equinox/nn/_rnn.py) -- :data:`~lstm_verify.layouts.EQUINOX`. The cell is
unbatched, so a batch is ``jax.vmap``-ped over; there is no sequence API and no default state (the
cell's call takes ``hidden``). Gradients by ``jax.vjp`` of the cell, chained back through time.
Any storage dtype (the cell's ``dtype``)."""

from __future__ import annotations

import equinox as eqx
import jax

from lstm_verify.adapters.base import Capabilities, Model
from lstm_verify.adapters.jax_step import JaxAdapterBase, JaxFunctions, JaxModel
from lstm_verify.dtypes import STORAGE
from lstm_verify.layouts import EQUINOX, Native


def cell(params: dict, x: jax.Array, h: jax.Array, c: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``eqx.nn.LSTMCell`` holding ``params``, vmapped over every leading (batch) axis of ``x``."""
    w_ih, w_hh, b = params["w_ih"], params["w_hh"], params["b"]
    shape = eqx.filter_eval_shape(eqx.nn.LSTMCell, w_ih.shape[1], w_hh.shape[1], dtype=w_ih.dtype,
                                  key=jax.random.key(0))
    lstm = eqx.tree_at(lambda m: (m.weight_ih, m.weight_hh, m.bias), shape, (w_ih, w_hh, b))

    def step(x: jax.Array, h: jax.Array, c: jax.Array) -> tuple[jax.Array, jax.Array]:
        return lstm(x, (h, c))
    for _ in range(x.ndim - 1):
        step = jax.vmap(step)
    return step(x, h, c)


_FUNCTIONS = JaxFunctions(cell)


class EquinoxAdapter(JaxAdapterBase):
    name = "equinox"
    requires = ("equinox", "jax")
    layout = EQUINOX
    capabilities = Capabilities(gradients=True, training=True, unbatched=True, optional_state=False,
                                dtypes=STORAGE)

    def load(self, native: Native, dtype: str) -> Model:
        return JaxModel(_FUNCTIONS, native, dtype, {k: k for k in native}, has_sequence=False)
