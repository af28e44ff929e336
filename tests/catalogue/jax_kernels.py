"""JAX steps whose bug lives where the small shapes never look: a blocked body and a
large-batch path. (JAX arrays have no strides and are immutable, so strided reads and reused
output buffers cannot occur in a jax-step.)"""

import jax.numpy as jnp

from tests.catalogue.jax_steps import step

BLOCK = 16
"""Units per block: AVX-512's sixteen float32 lanes."""
LARGE_BATCH = 64


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
