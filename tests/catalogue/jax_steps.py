"""JAX steps as users write them: ``step(params, x, (h, c)) -> (h, c)`` with torch-named params."""

import jax
import jax.numpy as jnp

from lstm_verify import Variant, capabilities


def step(params, x, state, sigmoid=jax.nn.sigmoid):
    h, c = state
    z = x @ params["weight_ih"].T + params["bias_ih"] + h @ params["weight_hh"].T + params["bias_hh"]
    i, f, g, o = jnp.split(z, 4, axis=-1)
    c = sigmoid(f) * c + sigmoid(i) * jnp.tanh(g)
    return sigmoid(o) * jnp.tanh(c), c


def detached_carry_step(params, x, state):
    """``lax.stop_gradient`` on the carried cell state: the forward is exact, the error no longer
    flows back along the carousel (the JAX twin of torch_cells.DetachedCarryCell)."""
    h, c = state
    return step(params, x, (h, jax.lax.stop_gradient(c)))


@jax.custom_vjp
def _sigmoid(z):
    return jax.nn.sigmoid(z)


def _sigmoid_forward(z):
    s = jax.nn.sigmoid(z)
    return s, s


def _sigmoid_backward(s, g):
    return (g * s,)  # forgets the (1 - s) factor


_sigmoid.defvjp(_sigmoid_forward, _sigmoid_backward)


def wrong_backward_step(params, x, state):
    """A sigmoid with a hand-written ``jax.custom_vjp`` that is wrong: the forward is exact (the
    JAX twin of torch_cells.WrongBackwardCell)."""
    return step(params, x, state, sigmoid=_sigmoid)


def squeezed_step(params, x, state):
    h, c = step(params, x, state)
    return jnp.squeeze(h), jnp.squeeze(c)


def bfloat16_matmul_step(params, x, state):
    """Matmuls in bfloat16 (a TPU default), accumulated back into the input dtype."""
    h, c = state
    bf = lambda a: a.astype(jnp.bfloat16)  # noqa: E731
    z = (bf(x) @ bf(params["weight_ih"]).T + bf(h) @ bf(params["weight_hh"]).T).astype(x.dtype)
    z = z + params["bias_ih"] + params["bias_hh"]
    i, f, g, o = jnp.split(z, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    return jax.nn.sigmoid(o) * jnp.tanh(c), c


def _scan(params, xs, state, reverse=False):
    """A sequence API: ``lax.scan`` of the step, ``reverse`` keeping outputs in input time order;
    no state is the zero state."""
    if state is None:
        zeros = jnp.zeros((*xs.shape[1:-1], params["weight_hh"].shape[1]), xs.dtype)
        state = (zeros, zeros)

    def body(state, x):
        state = step(params, x, state)
        return state, state[0]
    state, hs = jax.lax.scan(body, state, xs, reverse=reverse)
    return hs, state


@capabilities(optional_state=True, unbatched=True, sequence=_scan, reverse=True)
def declared_step(params, x, state=None):
    """Correct, declaring a default state, unbatched input and a sequence API with reverse."""
    if state is None:
        zeros = jnp.zeros((*x.shape[:-1], params["weight_hh"].shape[1]), x.dtype)
        state = (zeros, zeros)
    return step(params, x, state)


PEEPHOLE_CELL_CLIP = Variant(peepholes=True, clip=1.0, clip_reading="cell")


def _peephole_cell_clip(params, x, state, peepholes):
    h, c = state
    z = x @ params["weight_ih"].T + params["bias_ih"] + h @ params["weight_hh"].T + params["bias_hh"]
    zi, zf, zg, zo = jnp.split(z, 4, axis=-1)
    p_i, p_f, p_o = jnp.split(peepholes, 3)
    c = jnp.clip(jax.nn.sigmoid(zf + p_f * c) * c + jax.nn.sigmoid(zi + p_i * c) * jnp.tanh(zg), -1.0, 1.0)
    return jax.nn.sigmoid(zo + p_o * c) * jnp.tanh(c), c


@capabilities(variant=PEEPHOLE_CELL_CLIP)
def peephole_cell_clip_step(params, x, state):
    """Correct: TensorFlow's ``LSTMBlockCell(use_peephole=True, cell_clip=1)`` written in JAX, torch's
    layout, ``weight_peephole`` the blocks p_i, p_f, p_o: the cell clipped after its update, o's
    peephole and h reading the clipped cell."""
    return _peephole_cell_clip(params, x, state, params["weight_peephole"])


@capabilities(variant=PEEPHOLE_CELL_CLIP)
def frozen_peephole_step(params, x, state):
    """``peephole_cell_clip_step`` with its peephole weights behind ``lax.stop_gradient`` (frozen as
    constants, as a port that builds them outside the traced parameters does): the forward is
    exact, dL/dp is zero and training never moves them."""
    return _peephole_cell_clip(params, x, state, jax.lax.stop_gradient(params["weight_peephole"]))
