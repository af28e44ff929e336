"""Hypothesis strategies for the properties.

Shapes come from menus rather than free ranges. JIT-compiled implementations compile once per
shape, so a menu keeps them fast while hypothesis still varies the shapes, the parameters
(through ``seed``) and their scale. Two menus:

* :data:`SHAPES`, three small (batch, input, hidden) triples, for the laws about what is
  computed (states, sequences, stacks), where size does not matter;
* :data:`KERNEL_SHAPES`, the ladder, for agreement at the sizes where kernels switch code
  paths (:func:`ladders`: every example covers the whole ladder).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from lstm_verify.params import Case
from lstm_verify.reference import ACTIVATIONS, TAKES, Activation

SHAPES = ((1, 1, 3), (2, 3, 2), (5, 4, 7))
"""(batch, input_size, hidden_size): a batch of one, input != hidden both ways so a transposed
weight cannot pass. Three triples rather than every combination: each new shape costs a
JIT-compiled implementation a compile, and these three keep every bug class the laws target."""


HIDDEN_LADDER = (1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 512, 513, 1024)
"""Hidden sizes on both sides of the powers of two where kernels block their units: SIMD widths
(8 float32 in AVX2, 16 in AVX-512), the warp (32), and the tiles that GEMM libraries and
persistent RNN kernels use (64 to 256: cuDNN's persistent kernels for small hidden sizes,
oneDNN's and XLA's blocked layouts), up to the wide H = 1024."""

BATCH_LADDER = (1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 128, 256)
"""Batch sizes on both sides of 8, 16, 32 and 64, where implementations switch from a
matrix-vector to a matrix-matrix (GEMM) path and change their tiling, up to 256."""

KERNEL_SHAPES = (
    (9, 3, 1), (8, 7, 7), (7, 9, 8), (65, 8, 9), (16, 15, 15), (15, 16, 16), (256, 16, 17), (33, 31, 31),
    (32, 33, 32), (31, 32, 33), (64, 64, 63), (63, 63, 64), (128, 65, 65), (17, 127, 127), (9, 128, 128),
    (8, 129, 129), (16, 256, 255), (1, 255, 256), (7, 257, 257), (256, 256, 256), (8, 512, 511),
    (33, 512, 512), (64, 512, 512), (1, 513, 513), (32, 1024, 1024),
)
"""(batch, input, hidden): every size of :data:`HIDDEN_LADDER` and of :data:`BATCH_LADDER` at least
once, input equal to hidden (the common configuration, I = H = 512 and 1024) and one off it,
the fastrnns shape (64, 512, 512) and a large batch at a large hidden size (256, 256, 256).
A bounded set: a JIT-compiled implementation compiles each shape once, whichever law draws it."""


def _cases(shapes: tuple[tuple[int, int, int], ...], steps: tuple[int, ...],
           weight_scales: tuple[float, ...]) -> st.SearchStrategy[Case]:
    return st.sampled_from(shapes).flatmap(lambda shape: st.builds(
        Case, batch=st.just(shape[0]), input_size=st.just(shape[1]), hidden_size=st.just(shape[2]),
        steps=st.sampled_from(steps), seed=st.integers(0, 2**32 - 1), weight_scale=st.sampled_from(weight_scales)))


def cases(steps: tuple[int, ...] = (1, 3, 8), weight_scales: tuple[float, ...] = (1.0, 0.5, 3.0)
          ) -> st.SearchStrategy[Case]:
    """Cases with every array drawn from ``seed``: weights differ per gate, states are non-zero."""
    return _cases(SHAPES, steps, weight_scales)


SEQUENCE_SHAPES = KERNEL_SHAPES[::3]
"""Every third size of the ladder, from H = 1 to 1024 and B = 1 to 256, for the sequence law,
whose compiles cost more (the step law covers every size)."""

GRADIENT_SHAPES = ((9, 3, 1), (7, 9, 8), (256, 16, 17), (31, 32, 33), (128, 65, 65), (8, 129, 129),
                   (7, 257, 257), (32, 1024, 1024))
"""Sizes of the ladder for the gradient law: both sides of 8, 16, 32, 64, 128 and 256 units, a
large batch, I = H = 1024."""


@dataclass(frozen=True)
class Ladder:
    """One example of a ladder law: every shape of ``shapes``, all from ``seed`` and ``weight_scale``;
    ``repr`` pastes back, ``Ladder(...).cases()`` gives its :class:`Case` objects."""

    shapes: tuple[tuple[int, int, int], ...]
    steps: int = 1
    seed: int = 0
    weight_scale: float = 1.0

    def cases(self) -> list[Case]:
        return [Case(b, i, h, self.steps, seed=(self.seed + k) % 2**32, weight_scale=self.weight_scale)
                for k, (b, i, h) in enumerate(self.shapes)]


def ladders(shapes: tuple[tuple[int, int, int], ...] = KERNEL_SHAPES, steps: int = 1) -> st.SearchStrategy[Ladder]:
    """A :class:`Ladder` over ``shapes``: hypothesis draws the seed and the scale, every example
    covers every size, so a threshold nobody planted is crossed in every run, not by luck."""
    return st.builds(Ladder, st.just(shapes), st.just(steps), st.integers(0, 2**32 - 1), st.sampled_from((1.0, 3.0)))


LONG_SHAPES = ((1, 3, 7), (2, 9, 17), (9, 8, 33))
"""Small (batch, input, hidden) for sequences of :data:`LONG_STEPS` steps."""

LONG_STEPS = 1000
"""A long sequence: past every window of 64 to 512 steps that an implementation may process
separately (memory-bounded training kernels, chunked inference)."""


LONG_WEIGHT_SCALES = (0.5, 1.0)
"""Weight scales of the long cases. Not 3, as the short cases have: over a thousand steps a
recurrence that strong amplifies rounding errors without limit, so the first-order error
bound outgrows h's whole range (largest bound on an h_t over 30 seeds of each long shape:
1e17 in bfloat16, 6e12 even in float32; at scale 1, 4.1 in bfloat16 and 1e-4 in float32), and
units that saturate flip between attractors where no first-order bound can follow them (the
thorough profile: flax, jax and torch-lstm in bfloat16 each turned an h_t from +1 to -1, 9.6
times the bound; torch-lstm bfloat16, (9, 8, 33): 2 of 40 seeds at scale 3, none of 120 long
cases at scale 1)."""


LONG_GRADIENT_SHAPES = SHAPES[:2]
"""(batch, input, hidden) for gradients over :data:`LONG_STEPS` steps: (1, 1, 3) and (2, 3, 2),
input != hidden both ways. Smaller than :data:`LONG_SHAPES`: the reference's BPTT and the error
model's backward are loops over the steps, and so is every step kind's backward; and two shapes
of :data:`SHAPES`, so a JIT-compiled step reuses the gradient law's programs (its backward is
compiled per (B, I, H), not per length)."""


def long_cases(shapes: tuple[tuple[int, int, int], ...] = LONG_SHAPES) -> st.SearchStrategy[Case]:
    """Cases of :data:`LONG_STEPS` steps at ``shapes`` and :data:`LONG_WEIGHT_SCALES`."""
    return _cases(shapes, (LONG_STEPS,), LONG_WEIGHT_SCALES)


def preactivations(size: int, magnitude: float) -> st.SearchStrategy[np.ndarray]:
    """Vectors of ``size`` gate pre-activations in [-magnitude, magnitude]."""
    return st.lists(st.floats(-magnitude, magnitude, allow_nan=False), min_size=size, max_size=size).map(
        lambda v: np.array(v, np.float64))


def activations() -> st.SearchStrategy[Activation]:
    """Any ONNX activation, with alpha and beta drawn where it takes them: slopes of order one, so
    a few steps of an unbounded one stay finite, and exact in float32, as ONNX stores them."""
    def build(name: str) -> st.SearchStrategy[Activation]:
        alpha = st.sampled_from((0.25, 0.75, 1.25)) if "a" in TAKES.get(name, "") else st.none()
        beta = st.sampled_from((-0.375, 0.125, 0.5)) if "b" in TAKES.get(name, "") else st.none()
        return st.builds(Activation, st.just(name), alpha, beta)
    return st.sampled_from(sorted(ACTIVATIONS)).flatmap(build)
