"""The same values in other memory layouts: how callers really pass arrays.

Each function returns a view holding exactly the values of ``a`` (same shape, same dtype) but
laid out differently in memory. A kernel that assumes C-contiguous input reads the wrong
elements from all but the last; one that writes into its input fails on the read-only one.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def time_slice(a: np.ndarray) -> np.ndarray:
    """A slice of batch-first data: ``a`` is row t = 1 of a (B, 3, ...) array, so consecutive
    batch rows are three rows apart (for a sequence (T, B, I): the time-major view of (B, T, I))."""
    if a.ndim == 3:
        return np.ascontiguousarray(a.transpose(1, 0, 2)).transpose(1, 0, 2)
    batch_first = np.zeros((a.shape[0], 3, *a.shape[1:]), a.dtype)
    batch_first[:, 1] = a
    return batch_first[:, 1]


def transposed(a: np.ndarray) -> np.ndarray:
    """Fortran order: the storage of the transpose (column-major), as a transposed tensor has."""
    return np.asfortranarray(a)


def reversed_strides(a: np.ndarray) -> np.ndarray:
    """Every stride negative: a reversed copy, read back to front."""
    flip = (slice(None, None, -1),) * a.ndim
    return a[flip].copy()[flip]


def read_only(a: np.ndarray) -> np.ndarray:
    """A copy that may not be written."""
    b = a.copy()
    b.flags.writeable = False
    return b


LAYOUTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "time slice of batch-first data": time_slice,
    "transposed (Fortran-order) storage": transposed,
    "negative strides": reversed_strides,
    "read-only": read_only,
}
