"""Hypothesis strategies for the properties.

Shapes come from a small menu rather than free ranges: a batch of one, input size
never equal to hidden size, and a few sequence lengths. JIT-compiled implementations
compile once per shape, so a menu keeps them fast while hypothesis still varies the
shapes, the parameters (through ``seed``) and their scale.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from lstm_verify.params import Case

BATCHES = (1, 2, 5)
SIZES = ((1, 3), (3, 2), (4, 7))
"""(input_size, hidden_size) pairs; input != hidden so a transposed weight cannot pass."""


def cases(steps: tuple[int, ...] = (1, 3, 8), weight_scales: tuple[float, ...] = (1.0, 0.5, 3.0)
          ) -> st.SearchStrategy[Case]:
    """Cases with every array drawn from ``seed``: weights differ per gate, states are non-zero."""
    return st.sampled_from(SIZES).flatmap(lambda sizes: st.builds(
        Case, batch=st.sampled_from(BATCHES), input_size=st.just(sizes[0]), hidden_size=st.just(sizes[1]),
        steps=st.sampled_from(steps), seed=st.integers(0, 2**32 - 1), weight_scale=st.sampled_from(weight_scales)))


def preactivations(size: int, magnitude: float) -> st.SearchStrategy[np.ndarray]:
    """Vectors of ``size`` gate pre-activations in [-magnitude, magnitude]."""
    return st.lists(st.floats(-magnitude, magnitude, allow_nan=False), min_size=size, max_size=size).map(
        lambda v: np.array(v, np.float64))
