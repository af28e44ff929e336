"""Hypothesis strategies for the properties.

Shapes come from a small menu rather than free ranges: three (batch, input, hidden)
triples and a few sequence lengths. JIT-compiled implementations
compile once per shape, so a menu keeps them fast while hypothesis still varies the
shapes, the parameters (through ``seed``) and their scale.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from lstm_verify.params import Case

SHAPES = ((1, 1, 3), (2, 3, 2), (5, 4, 7))
"""(batch, input_size, hidden_size): a batch of one, input != hidden both ways so a transposed
weight cannot pass. Three triples rather than every combination: each new shape costs a
JIT-compiled implementation a compile, and these three keep every bug class the laws target."""


def cases(steps: tuple[int, ...] = (1, 3, 8), weight_scales: tuple[float, ...] = (1.0, 0.5, 3.0)
          ) -> st.SearchStrategy[Case]:
    """Cases with every array drawn from ``seed``: weights differ per gate, states are non-zero."""
    return st.sampled_from(SHAPES).flatmap(lambda shape: st.builds(
        Case, batch=st.just(shape[0]), input_size=st.just(shape[1]), hidden_size=st.just(shape[2]),
        steps=st.sampled_from(steps), seed=st.integers(0, 2**32 - 1), weight_scale=st.sampled_from(weight_scales)))


def preactivations(size: int, magnitude: float) -> st.SearchStrategy[np.ndarray]:
    """Vectors of ``size`` gate pre-activations in [-magnitude, magnitude]."""
    return st.lists(st.floats(-magnitude, magnitude, allow_nan=False), min_size=size, max_size=size).map(
        lambda v: np.array(v, np.float64))
