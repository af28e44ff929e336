"""Timing a call (the wall clock, or CUDA events) and this device's matmul peak."""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from lstm_verify.bench.hardware import Unavailable


@dataclass(frozen=True)
class Timing:
    """Seconds per call: median and quartiles over ``repeats`` timings of ``number`` calls each;
    ``first_call`` is the first call alone (for JAX it includes compiling)."""

    median: float
    q1: float
    q3: float
    repeats: int
    number: int
    first_call: float
    output: Any = field(default=None, compare=False, repr=False)
    """What the last timed call returned: the bench checks it against the reference, so checking
    costs no call of its own (at the large shapes, one call is a second)."""

    @property
    def spread(self) -> float:
        """Interquartile range over the median."""
        return (self.q3 - self.q1) / self.median if self.median > 0 else math.nan


def _elapsed(fn: Callable[[], Any], number: int, cuda_events: bool) -> tuple[float, Any]:
    """Seconds ``number`` calls take, and the last call's output."""
    out = None
    if cuda_events:
        import torch

        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(number):
            out = fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3, out
    start_s = time.perf_counter()
    for _ in range(number):
        out = fn()
    return time.perf_counter() - start_s, out


def time_call(fn: Callable[[], Any], repeats: int = 5, min_time: float = 0.01, cuda_events: bool = False,
              warmup: int = 1) -> Timing:
    """Time ``fn`` after ``warmup`` calls: each repeat runs it enough times to last ``min_time``."""
    first, out = _elapsed(fn, 1, cuda_events)
    once = first
    for _ in range(warmup):
        once, out = _elapsed(fn, 1, cuda_events)
    number = max(1, math.ceil(min_time / max(once, 1e-9)))
    samples = []
    for _ in range(repeats):
        seconds, out = _elapsed(fn, number, cuda_events)
        samples.append(seconds / number)
    samples.sort()
    q1, median, q3 = (np.quantile(samples, [0.25, 0.5, 0.75]) if len(samples) > 1 else [samples[0]] * 3)
    return Timing(float(median), float(q1), float(q3), repeats, number, first, out)


def matmul_peak(device: str, dtype: str, n: int = 1024, repeats: int = 5) -> float:
    """This device's matmul FLOP/s in ``dtype`` (best of ``repeats`` n x n products, torch, or NumPy
    without torch); the yardstick for the fraction of peak. float32 on a GPU without TF32."""
    try:
        import torch
    except ImportError:
        if device != "cpu":
            raise Unavailable("no torch to measure the GPU's matmul peak") from None
        a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
        return 2.0 * n ** 3 / time_call(lambda: a @ a, repeats, 0.0).q1
    from lstm_verify.adapters._torch import fp32_precision

    a = torch.randn(n, n, device=device, dtype=getattr(torch, dtype))
    best = math.inf
    with fp32_precision("ieee") if device != "cpu" else nullcontext():
        _elapsed(lambda: a @ a, 2, device != "cpu")
        for _ in range(repeats):
            best = min(best, _elapsed(lambda: a @ a, 1, device != "cpu")[0])
    return 2.0 * n ** 3 / best
