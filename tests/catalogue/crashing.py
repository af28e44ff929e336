"""NumPy steps that kill their process, each only on a batch of one with one input feature
(the way a native kernel reads past its buffer on an edge case), so the laws that never use
that shape (the gate probes) still pass. The kit must name each crash, account for it as a
failure, and run the other laws."""

import ctypes
import os
from pathlib import Path

import numpy as np

from lstm_verify.targets import load_object

step = load_object(f"{Path(__file__).parent / 'numpy_steps.py'}:step")
"""The correct step, loaded by path as the kit loads a TARGET (workers need not find ``tests``)."""

MEMORY_CHUNK = 2**28
"""Bytes :func:`memory_blowup` allocates per chunk, 256 MiB."""


def _batch_of_one(x: np.ndarray) -> bool:
    return x.shape == (1, 1)


def segfault(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """Reads address 0, as a native kernel indexing past its buffer does: SIGSEGV."""
    if _batch_of_one(x):
        ctypes.string_at(0)
    return step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh)


def aborts(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """A failed assertion inside a native runtime: abort(), SIGABRT."""
    if _batch_of_one(x):
        os.abort()
    return step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh)


def exits(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """A library that calls exit(3) on an error it cannot report."""
    if _batch_of_one(x):
        os._exit(3)
    return step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh)


def memory_blowup(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """A workspace sized by a wrong formula: 256 MiB chunks, up to 64 GiB. Left untouched, so
    the kit's tests stay cheap: the memory limit counts an allocation when it is made."""
    if _batch_of_one(x):
        workspace = [np.empty(MEMORY_CHUNK, np.uint8) for _ in range(256)]
        del workspace
    return step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh)
