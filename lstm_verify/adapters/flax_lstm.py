"""flax: linen ``nn.LSTMCell`` and ``nn.OptimizedLSTMCell``, and ``nnx.LSTMCell``.

One Dense per gate and side (flax/linen/recurrent.py, flax/nnx/nn/recurrent.py): input kernels
``ii, if, ig, io`` (I, H) without bias (``if_`` in nnx), hidden kernels ``hi, hf, hg, ho`` (H, H)
with a bias each; concatenated i, f, g, o along the output axis they are
:data:`~lstm_verify.layouts.FLAX`. The carry is (c, h). Sequences run through the library's
``RNN`` (``seq_lengths``; ``reverse`` with ``keep_order``) and ``Bidirectional``, time-major;
gradients are ``jax.vjp`` of the cell, chained back through time. Without a state the cell
starts from the library's ``initialize_carry``. Parameters in any storage dtype
(``param_dtype``; the cell computes in the dtype of its inputs and parameters).
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen, nnx

from lstm_verify.adapters.base import Capabilities, Model, SequenceModel, State
from lstm_verify.adapters.jax_step import JaxAdapterBase, JaxFunctions, JaxModel, placed
from lstm_verify.dtypes import STORAGE
from lstm_verify.layouts import FLAX, Native
from lstm_verify.params import GATES


def gate_params(params: dict, if_name: str) -> dict:
    """FLAX-layout ``w_ih`` (I, 4H), ``w_hh`` (H, 4H), ``b`` (4H) -> flax's per-gate Dense params."""
    w_ih, w_hh, b = (jnp.split(params[k], 4, axis=-1) for k in ("w_ih", "w_hh", "b"))
    tree = {}
    for k, gate in enumerate(GATES):
        tree[if_name if gate == "f" else "i" + gate] = {"kernel": w_ih[k]}
        tree["h" + gate] = {"kernel": w_hh[k], "bias": b[k]}
    return tree


class Linen:
    """flax.linen: a module is a description, applied to a variables dict."""

    if_name = "if"

    def __init__(self, cell_class: type) -> None:
        self.cell_class = cell_class

    def cell(self, input_size: int, hidden_size: int, dtype: Any) -> linen.Module:
        return self.cell_class(features=hidden_size, param_dtype=dtype)

    def rnn(self, cell: linen.Module) -> linen.Module:
        return linen.RNN(cell, time_major=True, return_carry=True)

    def bidirectional(self, forward: linen.Module, backward: linen.Module) -> linen.Module:
        return linen.Bidirectional(forward, backward, time_major=True, return_carry=True)

    def bind(self, module: linen.Module, params: dict) -> Callable:
        return partial(module.apply, {"params": params})

    def initial(self, cell: linen.Module, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        return cell.initialize_carry(jax.random.key(0), x.shape)


class Nnx:
    """flax.nnx: a module holds its parameters; built abstract, then merged with the given ones."""

    if_name = "if_"

    def cell(self, input_size: int, hidden_size: int, dtype: Any) -> nnx.Module:
        return nnx.eval_shape(lambda: nnx.LSTMCell(input_size, hidden_size, param_dtype=dtype, rngs=nnx.Rngs(0)))

    def rnn(self, cell: nnx.Module) -> nnx.Module:
        return nnx.RNN(cell, time_major=True, return_carry=True)  # rngs: the default stream, for initialize_carry

    def bidirectional(self, forward: nnx.Module, backward: nnx.Module) -> nnx.Module:
        return nnx.Bidirectional(forward, backward, time_major=True, return_carry=True, rngs=False)

    def bind(self, module: nnx.Module, params: dict) -> Callable:
        graphdef, state = nnx.split(module)
        nnx.replace_by_pure_dict(state, params)
        return nnx.merge(graphdef, state)

    def initial(self, cell: nnx.Module, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        return cell.initialize_carry(x.shape, rngs=nnx.Rngs(0))


class FlaxFunctions:
    """The cell, RNN and Bidirectional of one flax API as pure functions of FLAX-layout params."""

    def __init__(self, api: Linen | Nnx) -> None:
        self.api = api
        self.fns = JaxFunctions(self.cell, self.sequence)
        self.bidirectional = jax.jit(self._bidirectional)

    def _cell(self, params: dict) -> Any:
        return self.api.cell(params["w_ih"].shape[0], params["w_hh"].shape[0], params["w_hh"].dtype)

    def _gates(self, params: dict) -> dict:
        return gate_params(params, self.api.if_name)

    def cell(self, params: dict, x: jax.Array, h: jax.Array | None, c: jax.Array | None
             ) -> tuple[jax.Array, jax.Array]:
        cell = self._cell(params)
        carry = self.api.initial(cell, x) if h is None else (c, h)
        (c, h), _ = self.api.bind(cell, self._gates(params))(carry, x)
        return h, c

    def sequence(self, params: dict, xs: jax.Array, h: jax.Array | None, c: jax.Array | None,
                 lengths: jax.Array | None, reverse: bool) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
        rnn = self.api.bind(self.api.rnn(self._cell(params)), {"cell": self._gates(params)})
        carry = None if h is None else (c, h)  # None: the RNN's own initialize_carry
        (c, h), hs = rnn(xs, initial_carry=carry, seq_lengths=lengths, reverse=reverse, keep_order=True)
        return hs, (h, c)

    def _bidirectional(self, forward: dict, backward: dict, xs: jax.Array, h: jax.Array, c: jax.Array,
                       lengths: jax.Array | None) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
        api = self.api
        params = {"forward_rnn": {"cell": self._gates(forward)}, "backward_rnn": {"cell": self._gates(backward)}}
        layer = api.bind(api.bidirectional(api.rnn(self._cell(forward)), api.rnn(self._cell(backward))), params)
        ((c_f, h_f), (c_b, h_b)), hs = layer(xs, initial_carry=((c[0], h[0]), (c[1], h[1])), seq_lengths=lengths)
        return hs, (jnp.stack([h_f, h_b]), jnp.stack([c_f, c_b]))


class FlaxBidirectionalModel(SequenceModel):
    """One ``Bidirectional`` layer: states (2, B, H), outputs (T, B, 2H)."""

    def __init__(self, fn: Callable, natives: list[Native], dtype: str) -> None:
        self.fn, self.dtype = fn, dtype
        self.params = [placed(native, dtype) for native in natives]
        self.hidden_size = len(natives[0]["b"]) // 4

    def sequence(self, xs: np.ndarray, state: State | None = None, *, lengths: np.ndarray | None = None,
                 reverse: bool = False) -> tuple[np.ndarray, State]:
        if reverse:
            raise NotImplementedError("a bidirectional layer has no reverse mode")
        if state is None:
            state = (np.zeros((2, xs.shape[1], self.hidden_size), self.dtype),) * 2
        hs, (h, c) = self.fn(*self.params, xs, state[0], state[1], lengths)
        return np.asarray(hs), (np.asarray(h), np.asarray(c))


class FlaxAdapter(JaxAdapterBase):
    """A flax LSTM cell, its ``RNN`` and ``Bidirectional``; ``load_stack`` builds one bidirectional layer."""

    requires = ("flax", "jax")
    layout = FLAX
    capabilities = Capabilities(gradients=True, training=True, sequence=True, unbatched=True, lengths=True,
                                reverse=True, bidirectional=True, dtypes=STORAGE)

    def __init__(self, name: str, functions: FlaxFunctions) -> None:
        self.name, self.functions = name, functions

    def load(self, native: Native, dtype: str) -> Model:
        return JaxModel(self.functions.fns, native, dtype, {k: k for k in native}, has_sequence=True)

    def load_stack(self, layers: list[list[Native]], dtype: str) -> Model:
        if len(layers) != 1 or len(layers[0]) != 2 or "w_hr" in layers[0][0]:
            raise NotImplementedError(f"{self.name} builds one bidirectional layer, without projection")
        return FlaxBidirectionalModel(self.functions.bidirectional, layers[0], dtype)


_LINEN = FlaxFunctions(Linen(linen.LSTMCell))
_OPTIMIZED = FlaxFunctions(Linen(linen.OptimizedLSTMCell))
_NNX = FlaxFunctions(Nnx())


def linen_lstm() -> FlaxAdapter:
    """``flax.linen.LSTMCell``."""
    return FlaxAdapter("flax-lstm", _LINEN)


def linen_optimized() -> FlaxAdapter:
    """``flax.linen.OptimizedLSTMCell``: the per-gate kernels concatenated before one matmul per side."""
    return FlaxAdapter("flax-optimized", _OPTIMIZED)


def nnx_lstm() -> FlaxAdapter:
    """``flax.nnx.LSTMCell``."""
    return FlaxAdapter("flax-nnx", _NNX)
