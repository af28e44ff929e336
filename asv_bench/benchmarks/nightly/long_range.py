"""The kit's long-range measurements per adapter: each trains or differentiates through long
sequences, a minute or more per adapter on two CPU cores."""

from __future__ import annotations

import numpy as np

from benchmarks.step.lstm import CPU_ADAPTERS


class TrackLongRange:
    """The kit's long-range measurements per adapter (float32): Adam steps delayed XOR at
    lag 60 needed (over all restarts), and log10 of the median early-input gradient ratio."""

    params = list(CPU_ADAPTERS)
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
