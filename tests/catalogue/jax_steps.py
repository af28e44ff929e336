"""JAX steps as users write them: ``step(params, x, (h, c)) -> (h, c)`` with torch-named params."""

import jax
import jax.numpy as jnp


def step(params, x, state):
    h, c = state
    z = x @ params["weight_ih"].T + params["bias_ih"] + h @ params["weight_hh"].T + params["bias_hh"]
    i, f, g, o = jnp.split(z, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    return jax.nn.sigmoid(o) * jnp.tanh(c), c


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
