"""Agreement at the sizes where kernels switch code paths, and over long sequences.

The other laws draw three small shapes. These run every size of the ladder of
:mod:`lstm_verify.strategies` in every example -- hidden sizes on both sides of the powers of
two up to 1024, batches up to 256, input equal to hidden and not -- with the seed and scale
drawn by hypothesis, and sequences of 1000 steps. Each example is expensive, so the ci and dev
profiles run one per law, the thorough profile ten; the README (Quick start, "Measured") says what that costs.
"""

import pytest
from hypothesis import given, settings

from lstm_verify.agreement import gradients_agree, sequence_agrees, step_agrees
from lstm_verify.strategies import GRADIENT_SHAPES, LONG_GRADIENT_SHAPES, SEQUENCE_SHAPES, ladders, long_cases

EXAMPLES = 10 if settings().max_examples > 100 else 1
"""Examples per law here: one in the ci and dev profiles (each covers the whole ladder), ten in
the thorough profile."""
CHUNKS = (64, 100, 128, 257, 500)
"""Chunk sizes for streaming: powers of two, and sizes that divide no window of one."""


@settings(max_examples=EXAMPLES)
@given(ladder=ladders())
def test_step_agrees_at_kernel_sizes(impl, ladder):
    """One step at every size of the ladder -- hidden sizes 1 to 1024 on both sides of powers of
    two, batches 1 to 256, input equal to hidden and not -- gives the reference's (h, c) within
    the error bound.

    Kernels block their units (SIMD widths, warps, tiles) and switch to GEMM paths for large
    batches; a wrong vectorised body with a right scalar tail, or a bias dropped on the
    large-batch path, is invisible at the small shapes of the other laws."""
    for case in ladder.cases():
        step_agrees(impl, case)


@settings(max_examples=EXAMPLES)
@given(ladder=ladders(SEQUENCE_SHAPES, steps=3))
def test_sequence_agrees_at_kernel_sizes(impl, ladder):
    """Three steps (the sequence API where there is one) at every third size of the ladder give the
    reference's h_t and c_T within the error bound.

    A fused sequence kernel has its own size thresholds (persistent kernels keep W_hh in
    on-chip memory only up to some hidden size) besides those of the step."""
    for case in ladder.cases():
        sequence_agrees(impl, case)


@pytest.mark.requires("gradients")
@settings(max_examples=EXAMPLES)
@given(ladder=ladders(GRADIENT_SHAPES, steps=2))
def test_gradients_agree_at_kernel_sizes(impl, ladder):
    """Gradients over two steps at eight sizes of the ladder (both sides of 8 to 256 units, a large
    batch, I = H = 1024) match the reference's BPTT within the error bound.

    A hand-written backward is blocked and tiled like the forward, often separately from it,
    and its reductions over the batch change path with the batch size."""
    for case in ladder.cases():
        gradients_agree(impl, case)


@pytest.mark.requires("long_sequences")
@settings(max_examples=EXAMPLES)
@given(case=long_cases())
def test_long_sequence_agrees_with_reference(impl, case):
    """Over 1000 steps every h_t and the final c_T match the reference, within an error bound that
    follows the recurrence.

    Implementations process long sequences in windows (memory-bounded kernels, chunked
    inference); state lost or reset at a window boundary shows only past the first window."""
    sequence_agrees(impl, case)


@pytest.mark.requires("sequence", "long_sequences")
@settings(max_examples=EXAMPLES)
@given(case=long_cases())
def test_long_sequence_streamed_in_chunks(impl, case):
    """1000 steps streamed in chunks of 64, 100, 128, 257 and 500 steps, (h, c) carried from each
    chunk into the next, give the reference's h_t and c_T.

    Streaming inference feeds a long sequence in pieces; an implementation that keeps a window
    of its own inside a chunk, or mishandles a chunk that does not divide its window, fails
    only here. Every example streams in every chunk size."""
    for chunk in CHUNKS:
        sequence_agrees(impl, case, chunk)


@pytest.mark.requires("gradients", "long_sequences")
@settings(max_examples=EXAMPLES)
@given(case=long_cases(LONG_GRADIENT_SHAPES))
def test_long_sequence_gradients_agree_with_bptt(impl, case):
    """Over 1000 steps, the gradients with respect to every step's input, the initial (h, c) and
    every parameter match the reference's BPTT within the error bound.

    A backward that works in windows -- a sequence run in chunks with the state detached between
    them, truncated BPTT left in a "full" backward, a memory-bounded kernel that recomputes each
    window -- loses the gradient carried across every boundary while the forward stays exact; the
    other gradient laws run at most 60 steps and never cross one."""
    gradients_agree(impl, case)
