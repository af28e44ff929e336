"""What is benchmarked: the shapes (after PyTorch's ``benchmarks/fastrnns``), the modes, the
baselines, and the matmul flops a step counts."""

from __future__ import annotations

from typing import NamedTuple


class Shape(NamedTuple):
    batch: int
    input_size: int
    hidden: int
    steps: int

    def __str__(self) -> str:
        return f"B={self.batch} I={self.input_size} H={self.hidden} T={self.steps}"


SHAPES: dict[str, Shape] = {
    "fastrnns": Shape(64, 512, 512, 100),      # PyTorch's benchmarks/fastrnns default
    "streaming": Shape(1, 64, 128, 100),       # one sequence at a time, as in online inference
    "large-batch": Shape(1024, 128, 128, 20),
    "small-hidden": Shape(64, 32, 32, 100),    # launch overhead dominates
    "wide": Shape(64, 1024, 1024, 100),
}
QUICK_SHAPES = ("streaming", "small-hidden")
"""The default of ``lstm-verify bench``: seconds on two CPU cores. ``--shapes all`` for the rest."""
MODES = ("step", "forward", "forward_backward")
FLOP_FACTOR = {"step": 1, "forward": 1, "forward_backward": 3}
"""Matmul flops of a mode per step, in forward steps: backward does two matmuls per forward one."""
BASELINES = ("torch-lstm", "torch-cell", "torch-cell-graph")
"""torch ``nn.LSTM``, the ``nn.LSTMCell`` loop, and (CUDA only) that loop replayed from a CUDA graph."""


def flops_per_step(shape: Shape, mode: str = "forward") -> float:
    """Matmul flops of one step: ``2 * B * 4H * (I + H)`` forward, three times that forward + backward."""
    return FLOP_FACTOR[mode] * 2.0 * shape.batch * 4 * shape.hidden * (shape.input_size + shape.hidden)


def parse_shape(text: str) -> Shape:
    """``"B,I,H,T"`` -> :class:`Shape`."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or min(values) < 1:
        raise ValueError(f"a shape is four positive integers B,I,H,T; got {text!r}")
    return Shape(*values)
