"""Step time of every built-in adapter, on CPU and (where present) CUDA, through the same suite an
adopter uses (:class:`lstm_verify.asv.LSTMSuite`), and the memory the dashboard tracks next to it:
GPU memory and host peak memory."""

from __future__ import annotations

import lstm_verify.asv
from lstm_verify.adapters import BUILTIN, builtin_adapter
from lstm_verify.bench import SHAPES, make_runner

CPU_ADAPTERS = tuple(name for name in BUILTIN if not name.endswith("-cuda"))
"""Every built-in adapter but the CUDA variants (the CPU adapters run on CUDA where it is present)."""


class TimeLSTM(lstm_verify.asv.LSTMSuite):
    """Microseconds per step of one step, a sequence forward, and forward + backward through time;
    every built-in adapter and the baselines, at one overhead-bound shape (streaming) and one
    throughput-bound shape (large-batch). small-hidden and PyTorch's fastrnns size are timed
    nightly (``nightly.shapes``)."""

    target = None
    adapters = CPU_ADAPTERS
    shapes = ("streaming", "large-batch")
    repeats = 3


if "cuda" in lstm_verify.asv.devices():  # not generated on a machine without a GPU
    class TrackGPUMemory:
        """Peak CUDA memory of forward + backward for the torch adapters."""

        params = (["torch-cell", "torch-lstm", "paper-cell"], list(SHAPES))
        param_names = ["adapter", "shape"]
        unit = "MiB"

        def setup(self, adapter: str, shape: str) -> None:
            self.runner = make_runner(builtin_adapter(adapter), SHAPES[shape], "cuda", "float32")

        def track_gpu_peak_memory(self, adapter: str, shape: str) -> float:
            import torch

            torch.cuda.reset_peak_memory_stats()
            self.runner.calls["forward_backward"]()
            torch.cuda.synchronize()
            return torch.cuda.max_memory_allocated() / 2 ** 20


class PeakMemLSTM:
    """Host peak memory (RSS) of forward + backward at PyTorch's fastrnns size."""

    params = list(CPU_ADAPTERS)
    param_names = ["adapter"]

    def setup(self, adapter: str) -> None:
        """An adapter without gradients (or not runnable here) is skipped before its model is
        loaded at this size, which it would not use."""
        impl = builtin_adapter(adapter)
        reason = impl.unavailable() or ("" if impl.capabilities.gradients else
                                        f"{adapter} has no forward + backward: it computes no gradients")
        if reason:
            raise NotImplementedError(reason)
        self.runner = make_runner(impl, SHAPES["fastrnns"], "cpu", "float32")

    def peakmem_forward_backward(self, adapter: str) -> None:
        self.runner.calls["forward_backward"]()
