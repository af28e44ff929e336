"""The kit's own speed: how long a verdict takes, per law, on the built-in NumPy adapter (float64,
the ci profile). Torch's commits change torch's timings; the kit's commits change these."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Callable

LAWS = ("test_step_agrees_with_reference", "test_sequence_agrees_with_reference", "test_gate_order",
        "test_exact_cec_carry", "test_gradients_agree_with_bptt", "test_streaming_equals_whole")


def law(name: str) -> Callable:
    """The property function ``name`` from the ``properties`` package."""
    import properties

    for module in pkgutil.iter_modules(properties.__path__):
        found = getattr(importlib.import_module(f"properties.{module.name}"), name, None)
        if found is not None:
            return found
    raise LookupError(f"no law {name!r} in properties/")


class TimeVerdict:
    """Seconds one law takes to pass its ci-profile examples on ``numpy`` float64."""

    params = (list(LAWS), ["numpy"])
    param_names = ["law", "adapter"]
    number = 1
    repeat = (3, 5, 20.0)
    rounds = 1
    timeout = 300

    def setup(self, name: str, adapter: str) -> None:
        from hypothesis import settings

        import lstm_verify.pytest_plugin  # noqa: F401  (registers the profiles)
        from lstm_verify.implementation import implementation

        settings.register_profile("asv", parent=settings.get_profile("ci"), database=None)
        settings.load_profile("asv")
        self.law, self.impl = law(name), implementation(adapter, "float64")

    def time_verdict(self, name: str, adapter: str) -> None:
        self.law(impl=self.impl)
