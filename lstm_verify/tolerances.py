"""The one table of tolerances: per dtype and quantity, growing with sequence length.

A value passes when ``|got - ref| <= tol * (1 + |ref|)`` elementwise, with
``tol = TABLE[dtype][quantity] * steps``. The bases were measured (README, "Tolerances").
"""

from __future__ import annotations

TABLE: dict[str, dict[str, float]] = {
    "float64": {"h": 1e-14, "c": 1e-14, "grad": 1e-13},
    "float32": {"h": 1e-6, "c": 1e-6, "grad": 1e-5},
}


def tolerance(dtype: str, quantity: str, steps: int = 1) -> float:
    """The tolerance for ``quantity`` ("h", "c" or "grad") after ``steps`` recurrent steps."""
    return TABLE[dtype][quantity] * max(steps, 1)
