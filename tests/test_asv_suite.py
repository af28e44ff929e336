"""The kit's own asv suite (``asv_bench/benchmarks``) skips what a law would skip: a parameter
that cannot run is reported as skipped with its reason, not as a failed benchmark."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from lstm_verify.implementation import implementation


@pytest.fixture
def benchmarks(monkeypatch):
    """The package ``asv_bench/benchmarks``, imported as asv imports it."""
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "asv_bench"))
    import benchmarks.nightly.kit
    import benchmarks.nightly.long_range
    import benchmarks.step.lstm
    return benchmarks


def test_long_range_tracks_skip_adapters_without_gradients(benchmarks):
    """TrackLongRange trains delayed XOR and differentiates the early input: an adapter without
    gradients (the ONNX runtimes) is skipped in setup, naming what it lacks, as the two laws skip
    it; one with them sets up."""
    suite = benchmarks.nightly.long_range.TrackLongRange()
    ran = []
    for adapter in suite.params:
        impl = implementation(adapter, "float32")
        if impl.skip_reason():
            continue
        if impl.capabilities.gradients and impl.capabilities.training:
            suite.setup(adapter)
            ran.append(adapter)
        else:
            with pytest.raises(NotImplementedError, match="declares no (gradients|training)"):
                suite.setup(adapter)
    assert "numpy" in ran


def test_peak_memory_skips_adapters_without_a_backward(benchmarks, monkeypatch):
    """PeakMemLSTM measures forward + backward: an ONNX runtime has no backward and is skipped
    before its model is built at the fastrnns size."""
    def build(*args):
        raise AssertionError("built an implementation it then skips")

    monkeypatch.setattr(benchmarks.step.lstm, "make_runner", build)
    with pytest.raises(NotImplementedError, match="no forward . backward"):
        benchmarks.step.lstm.PeakMemLSTM().setup("onnx-reference")


def test_verdict_time_records_nothing_for_a_run_that_checked_nothing(benchmarks, monkeypatch):
    """A JAX float64 verdict without JAX_ENABLE_X64 skips every check and exits 0: TrackVerdictTime
    turns x64 on, and a run with a dtype whose checks all skipped records no time."""
    seen = {}

    def fake_run(cmd, env, **kwargs):
        seen["x64"] = env.get("JAX_ENABLE_X64")
        report = Path(cmd[cmd.index("--json") + 1])
        report.write_text(json.dumps([{"implementation": "step-float64", "property": p, "status": "skipped"}
                                      for p in ("test_gate_order", "test_gate_ranges")]))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(benchmarks.nightly.kit.subprocess, "run", fake_run)
    monkeypatch.delenv("JAX_ENABLE_X64", raising=False)  # the kit's own tests run with it set
    with pytest.raises(RuntimeError, match="every check skipped in step-float64"):
        benchmarks.nightly.kit.TrackVerdictTime().track_verdict_seconds("jax_steps.step")
    assert seen["x64"] == "1"


def test_idle_columns(benchmarks, tmp_path):
    report = tmp_path / "r.json"
    report.write_text(json.dumps([{"implementation": "a-float32", "status": "passed"},
                                  {"implementation": "a-float32", "status": "skipped"},
                                  {"implementation": "a-float64", "status": "skipped"}]))
    assert benchmarks.nightly.kit.idle_columns(report) == ["a-float64"]
