"""JAX steps whose bug lives where the small shapes never look: a blocked body, a large-batch
path, windows of a long sequence. (JAX arrays have no strides and are immutable, so strided reads and reused
output buffers cannot occur in a jax-step.)"""

import jax
import jax.numpy as jnp

from lstm_verify import capabilities
from jax_steps import step  # beside this file: importable in the runner's workers too

BLOCK = 16
"""Units per block: AVX-512's sixteen float32 lanes."""
LARGE_BATCH = 64
WINDOW = 512
"""Steps per window of the windowed sequence API."""


def blocked_body_step(params, x, state):
    """Full blocks of 16 units leave the input bias out of the input gate; the tail is right."""
    hidden = state[0].shape[-1]
    body = hidden - hidden % BLOCK
    mask = jnp.arange(4 * hidden) < body
    return step({**params, "bias_ih": jnp.where(mask, 0.0, params["bias_ih"]).astype(params["bias_ih"].dtype)},
                x, state)


def large_batch_step(params, x, state):
    """From a batch of 64 on, a path that forgets ``bias_hh``."""
    if x.ndim == 2 and x.shape[0] >= LARGE_BATCH:
        params = {**params, "bias_hh": jnp.zeros_like(params["bias_hh"])}
    return step(params, x, state)


def _windowed_scan(params, xs, state):
    """A ``lax.scan`` over windows of ``WINDOW`` steps, each window's cell state from zero (h is carried)."""
    def body(state, x):
        state = step(params, x, state)
        return state, state[0]
    outs = []
    for start in range(0, xs.shape[0], WINDOW):
        if start:
            state = (state[0], jnp.zeros_like(state[1]))
        state, hs = jax.lax.scan(body, state, xs[start:start + WINDOW])
        outs.append(hs)
    return jnp.concatenate(outs), state


@capabilities(sequence=_windowed_scan)
def windowed_sequence_step(params, x, state):
    """A correct step whose declared sequence API restarts the cell state every 512 steps."""
    return step(params, x, state)
