"""What this machine can run on: cpu, and cuda when torch or JAX sees a GPU; and what cannot run
here, raised as :class:`Unavailable`."""

from __future__ import annotations

import os
from typing import Any


class Unavailable(NotImplementedError):
    """This implementation, device, precision or mode cannot run here; the message says why
    (a NotImplementedError, which asv records as skipped)."""


def torch_cuda() -> bool:
    """A CUDA device torch can use."""
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def jax_gpu() -> Any:
    """JAX's first GPU device, or None. JAX then allocates GPU memory on demand instead of taking
    75 % of it up front, which would leave torch's runners short."""
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    try:
        import jax
        return jax.devices("gpu")[0]
    except Exception:  # no jax, or no GPU backend
        return None


def devices() -> list[str]:
    """The devices this machine can benchmark: cpu, and cuda when torch or JAX sees a GPU."""
    return ["cpu"] + (["cuda"] if torch_cuda() or jax_gpu() is not None else [])
