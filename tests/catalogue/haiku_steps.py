"""Haiku as a user checks it: ``--kind jax-step --layout haiku``. The kit hands the step haiku's
own storage (``weight`` (I+H, 4H), ``bias`` (4H), gates i, g, f, o, the forget offset left to the
library), so calling ``hk.LSTM`` needs no conversion code."""

import haiku as hk
import jax
import jax.numpy as jnp


def _lstm(x, state):
    _, (h, c) = hk.LSTM(state[0].shape[-1])(x, hk.LSTMState(*state))
    return h, c


_core = hk.without_apply_rng(hk.transform(_lstm))


def step(params, x, state):
    return _core.apply({"lstm/linear": {"w": params["weight"], "b": params["bias"]}}, x, state)


def forgotten_forget_offset(params, x, state):
    """A hand-written haiku-compatible step that forgets the +1 haiku adds to the forget gate."""
    h, c = state
    i, g, f, o = jnp.split(jnp.concatenate([x, h], axis=-1) @ params["weight"] + params["bias"], 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    return jax.nn.sigmoid(o) * jnp.tanh(c), c
