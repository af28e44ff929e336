"""Step time of every built-in adapter, on CPU and (where present) CUDA, through the same suite an
adopter uses (:class:`lstm_verify.asv.LSTMSuite`), plus what the dashboard tracks next to it: GPU
memory, host peak memory, and the kit's long-range measurements."""

from __future__ import annotations

import numpy as np

import lstm_verify.asv
from lstm_verify.adapters import BUILTIN, builtin_adapter
from lstm_verify.bench import SHAPES, make_runner


class TimeLSTM(lstm_verify.asv.LSTMSuite):
    """Microseconds per step of one step, a sequence forward, and forward + backward through time;
    every built-in adapter and the baselines."""

    target = None
    adapters = tuple(name for name in BUILTIN if not name.endswith("-cuda"))
    shapes = ("streaming", "small-hidden", "large-batch", "fastrnns")
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

    params = list(TimeLSTM.adapters)
    param_names = ["adapter"]

    def setup(self, adapter: str) -> None:
        self.runner = make_runner(builtin_adapter(adapter), SHAPES["fastrnns"], "cpu", "float32")
        if "forward_backward" not in self.runner.calls:
            raise NotImplementedError(f"{adapter} has no forward + backward: it computes no gradients")

    def peakmem_forward_backward(self, adapter: str) -> None:
        self.runner.calls["forward_backward"]()


class TrackLongRange:
    """The kit's long-range measurements per adapter (float32): Adam steps delayed XOR at
    lag 60 needed (over all restarts), and log10 of the median early-input gradient ratio."""

    params = list(TimeLSTM.adapters)
    param_names = ["adapter"]
    timeout = 600

    def setup(self, adapter: str) -> None:
        import properties
        from lstm_verify.implementation import implementation

        self.impl = implementation(adapter, "float32")
        reason = self.impl.skip_reason()
        if reason:
            raise NotImplementedError(reason)
        laws = properties.collect()
        reasons = [properties.skip_reason(laws[law], self.impl, "ci")
                   for law in ("test_early_input_gradient_dominance", "test_delayed_xor_solvable")]
        if any(reasons):
            raise NotImplementedError(next(r for r in reasons if r))

    def track_xor_steps_to_solve(self, adapter: str) -> float:
        from lstm_verify.tasks import solve_xor

        results = solve_xor(self.impl)
        return float(sum(r.steps for r in results)) if results[-1].solved else float("nan")

    track_xor_steps_to_solve.unit = "Adam steps"

    def track_log10_early_gradient_ratio(self, adapter: str) -> float:
        from lstm_verify.tasks import early_input_gradients

        ratios = [np.divide(*early_input_gradients(self.impl, seed=s)) for s in range(20)]
        return float(np.log10(np.median(ratios)))

    track_log10_early_gradient_ratio.unit = "log10(ratio)"
