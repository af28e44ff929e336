"""The floating-point formats the kit knows: names, NumPy dtypes and unit roundoffs.

bfloat16 arrays are NumPy arrays of ``ml_dtypes.bfloat16`` (the type JAX uses); every
other format is a NumPy dtype of its own name. ``tf32`` is not a storage format: it is
the operand format of TF32 matmuls (float32's exponent, 10 explicit mantissa bits).
"""

from __future__ import annotations

import numpy as np

STORAGE = ("float64", "float32", "float16", "bfloat16")
"""Dtypes an implementation can compute in, widest first."""

MANTISSA_BITS = {"float64": 52, "float32": 23, "tf32": 10, "float16": 10, "bfloat16": 7}


def unit_roundoff(fmt: str) -> float:
    """u = 2^-(p) for a format with p - 1 explicit mantissa bits: the largest relative error of
    rounding to nearest."""
    return 2.0 ** -(MANTISSA_BITS[fmt] + 1)


def numpy_dtype(name: str) -> np.dtype:
    """The NumPy dtype that holds arrays of ``name``."""
    if name == "bfloat16":
        import ml_dtypes
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def name_of(dtype: np.dtype | str) -> str:
    """The kit's name for a NumPy dtype (``bfloat16`` for ml_dtypes')."""
    return np.dtype(dtype).name
