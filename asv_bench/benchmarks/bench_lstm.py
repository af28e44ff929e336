"""Step time of every built-in adapter, on CPU and (where present) CUDA, plus what the
dashboard should track next to it: achieved fraction of matmul peak, GPU memory, host
peak memory, and the kit's long-range measurements."""

from __future__ import annotations

import time

import numpy as np

from benchmarks.runners import ADAPTERS, DEVICES, SHAPES, Runner, cuda_available, flops_per_step


class TimeLSTM:
    """One step, a sequence forward, and forward + backward through time."""

    params = (ADAPTERS, list(SHAPES), DEVICES)
    param_names = ["adapter", "shape", "device"]
    timeout = 300
    rounds = 4
    repeat = (5, 20, 10.0)

    def setup(self, adapter: str, shape: str, device: str) -> None:
        self.runner = Runner(adapter, shape, device)

    def time_step(self, adapter: str, shape: str, device: str) -> None:
        self.runner.step()

    def time_forward(self, adapter: str, shape: str, device: str) -> None:
        self.runner.forward()

    def time_forward_backward(self, adapter: str, shape: str, device: str) -> None:
        self.runner.forward_backward()


class MatmulPeak:
    """This machine's measured float32 matmul peak, the yardstick for :class:`TrackEfficiency`."""

    def setup_cache(self) -> dict[str, float]:
        peaks = {"cpu": _matmul_peak("cpu")}
        if cuda_available():
            peaks["cuda"] = _matmul_peak("cuda")
        return peaks

    def track_matmul_peak_gflops(self, peaks: dict[str, float]) -> float:
        return peaks["cpu"] / 1e9

    track_matmul_peak_gflops.unit = "GFLOP/s"


def _matmul_peak(device: str, n: int = 2048, repeats: int = 5) -> float:
    import torch

    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    best = float("inf")
    for _ in range(repeats + 1):
        start = time.perf_counter()
        a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2.0 * n ** 3 / best


class TrackEfficiency:
    """Achieved GFLOP/s of a forward sequence as a fraction of the machine's matmul peak."""

    params = (ADAPTERS, list(SHAPES), DEVICES)
    param_names = ["adapter", "shape", "device"]
    unit = "fraction of matmul peak"
    timeout = 300

    def setup_cache(self) -> dict[str, float]:
        return MatmulPeak().setup_cache()

    def setup(self, peaks: dict[str, float], adapter: str, shape: str, device: str) -> None:
        self.runner = Runner(adapter, shape, device)

    def track_forward_fraction_of_peak(self, peaks: dict[str, float], adapter: str, shape: str, device: str) -> float:
        batch, input_size, hidden, steps = SHAPES[shape]
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            self.runner.forward()
            best = min(best, time.perf_counter() - start)
        return steps * flops_per_step(batch, input_size, hidden) / best / peaks[device]


class TrackGPUMemory:
    """Peak CUDA memory of forward + backward for the torch adapters."""

    params = ([a for a in ADAPTERS if a.startswith(("torch", "paper"))], list(SHAPES))
    param_names = ["adapter", "shape"]
    unit = "MiB"

    def setup(self, adapter: str, shape: str) -> None:
        self.runner = Runner(adapter, shape, "cuda")

    def track_gpu_peak_memory(self, adapter: str, shape: str) -> float:
        import torch

        torch.cuda.reset_peak_memory_stats()
        self.runner.forward_backward()
        return torch.cuda.max_memory_allocated() / 2 ** 20


class PeakMemLSTM:
    """Host peak memory (RSS) of forward + backward at PyTorch's fastrnns size."""

    params = ADAPTERS
    param_names = ["adapter"]

    def setup(self, adapter: str) -> None:
        self.runner = Runner(adapter, "fastrnns", "cpu")

    def peakmem_forward_backward(self, adapter: str) -> None:
        self.runner.forward_backward()


class TrackLongRange:
    """The kit's long-range measurements per adapter (float32): Adam steps delayed XOR at
    lag 60 needed (over all restarts), and log10 of the median early-input gradient ratio."""

    params = ADAPTERS
    param_names = ["adapter"]
    timeout = 600

    def setup(self, adapter: str) -> None:
        from lstm_verify.implementation import implementation

        self.impl = implementation(adapter, "float32")
        reason = self.impl.skip_reason()
        if reason:
            raise NotImplementedError(reason)

    def track_xor_steps_to_solve(self, adapter: str) -> float:
        from lstm_verify.tasks import solve_xor

        results = solve_xor(self.impl)
        return float(sum(r.steps for r in results)) if results[-1].accuracy >= 0.95 else float("nan")

    track_xor_steps_to_solve.unit = "Adam steps"

    def track_log10_early_gradient_ratio(self, adapter: str) -> float:
        from lstm_verify.tasks import early_input_gradients

        ratios = [np.divide(*early_input_gradients(self.impl, seed=s)) for s in range(20)]
        return float(np.log10(np.median(ratios)))

    track_log10_early_gradient_ratio.unit = "log10(ratio)"
