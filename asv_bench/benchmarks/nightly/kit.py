"""The kit's own speed: how long a verdict takes, per law, on the built-in NumPy adapter (float64,
the ci profile), and whole, as ``lstm-verify check`` on a correct and on a defective torch cell
and JAX step; and how many XLA compiles a JAX column costs. Torch's commits change torch's
timings; the kit's commits change these. Minutes each: nightly (``TimeVerdict``, seconds, is also
in the regression gate, ``asv_bench/gate.py``)."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
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


def ci_profile() -> None:
    """Load hypothesis's ci profile, without an example database."""
    from hypothesis import settings

    import lstm_verify.config  # noqa: F401  (registers the profiles)

    settings.register_profile("asv", parent=settings.get_profile("ci"), database=None)
    settings.load_profile("asv")


class TimeVerdict:
    """Seconds one law takes to pass its ci-profile examples on ``numpy`` float64."""

    params = (list(LAWS), ["numpy"])
    param_names = ["law", "adapter"]
    number = 1
    repeat = (3, 5, 20.0)
    rounds = 1
    timeout = 300

    def setup(self, name: str, adapter: str) -> None:
        from lstm_verify.implementation import implementation

        ci_profile()
        self.law, self.impl = law(name), implementation(adapter, "float64")

    def time_verdict(self, name: str, adapter: str) -> None:
        self.law(impl=self.impl)


VERDICT_TARGETS = {
    "HandWrittenCell": ("torch_cells.py:HandWrittenCell", "torch-cell", 0),
    "DetachedCarryCell": ("torch_cells.py:DetachedCarryCell", "torch-cell", 1),
    "jax_steps.step": ("jax_steps.py:step", "jax-step", 0),
    "jax_steps.detached_carry_step": ("jax_steps.py:detached_carry_step", "jax-step", 1),
}
"""The catalogue's TARGETs a verdict is timed on: (file:attr, kind, expected exit status)."""


def idle_columns(report: Path) -> list[str]:
    """The implementations of a ``--json`` report (one per dtype) in which every check was skipped."""
    records = json.loads(report.read_text())
    ran = {r["implementation"] for r in records if r["status"] != "skipped"}
    return sorted({r["implementation"] for r in records} - ran)


class TrackVerdictTime:
    """Seconds ``lstm-verify check TARGET --profile ci -n 2`` takes from start to exit, with an
    empty cache folder, on a correct torch cell and JAX step of the catalogue and on a defective
    one of each (a detached carry: its gradient, Jacobian and training laws fail, so it also times
    shrinking and the training laws' stop), in the four dtypes a TARGET gets by default (issue
    12's target on 2 cores: 60 s; a float64-only run, a subset of the same work, is not timed
    apart). JAX's float64 is on (``JAX_ENABLE_X64=1``, as in the README's commands). A run whose verdict is not the expected
    one, or that skipped every check of a dtype, records nothing. It runs in its empty cache
    folder: ``python -m`` puts the working folder first on ``sys.path``, so started in a checkout
    it would time that checkout's code, not the installed one."""

    params = list(VERDICT_TARGETS)
    param_names = ["cell"]
    unit = "seconds"
    rounds = 1
    timeout = 1800

    def track_verdict_seconds(self, cell: str) -> float:
        target, kind, expected = VERDICT_TARGETS[cell]
        catalogue = Path(__file__).resolve().parents[3] / "tests" / "catalogue"
        with tempfile.TemporaryDirectory() as cache:
            report = Path(cache) / "report.json"
            start = time.perf_counter()
            run = subprocess.run([sys.executable, "-m", "lstm_verify.cli", "check", f"{catalogue}/{target}", "--kind",
                                  kind, "--profile", "ci", "-n", "2", "--quiet",
                                  "--cache-dir", cache, "--json", str(report)],
                                 capture_output=True, text=True, cwd=cache, env={**os.environ, "JAX_ENABLE_X64": "1"})
            seconds = time.perf_counter() - start
            idle = idle_columns(report) if report.exists() else []
        if run.returncode != expected or idle:
            why = f"; every check skipped in {', '.join(idle)}" if idle else ""
            raise RuntimeError(f"lstm-verify check {target} exited {run.returncode}, expected {expected}{why}:\n"
                               f"{run.stdout[-2000:]}{run.stderr[-2000:]}")
        return seconds


class TrackCompiles:
    """XLA compilations one JAX column causes with an empty cache: every law that runs on
    ``ADAPTER`` float32 in the ci profile, called in one process (persistent cache off), counted
    by a ``jax.monitoring`` listener on backend compiles. Compiles are most of a cold main job
    (issue 12), and each new shape or function variant a law adds is one more per JAX column;
    ``track_compile_seconds`` is their backend time. The laws run once, in ``setup_cache``, for
    both tracks."""

    params = (["flax-lstm"],)
    param_names = ["adapter"]
    rounds = 1

    def setup_cache(self) -> dict[str, list[float]]:
        return {adapter: compile_seconds(adapter) for adapter in self.params[0]}

    setup_cache.timeout = 900

    def track_compiles(self, compiles: dict[str, list[float]], adapter: str) -> int:
        return len(compiles[adapter])
    track_compiles.unit = "compiles"

    def track_compile_seconds(self, compiles: dict[str, list[float]], adapter: str) -> float:
        return sum(compiles[adapter])
    track_compile_seconds.unit = "seconds"


def compile_seconds(adapter: str) -> list[float]:
    """The backend time of each XLA compile while every law that runs on ``adapter`` float32 in the
    ci profile passes in this process, x64 on as the main job runs and the persistent cache off."""
    import jax
    import jax.monitoring

    import properties
    from lstm_verify.implementation import implementation

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_enable_compilation_cache", False)
    ci_profile()
    compiles: list[float] = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, seconds, **_: compiles.append(seconds)
        if event == "/jax/core/compile/backend_compile_duration" else None)
    impl = implementation(adapter, "float32")
    for prop in properties.collect().values():
        if properties.skip_reason(prop, impl, "ci") is None:
            prop(impl=impl)
    return compiles
