"""An implementation that kills its process is a verdict: each crash is named in the matrix,
counted as a failure, the other laws still run, and the totals add up to the checks collected.
Two laws keep each run cheap: ``test_state_shapes`` meets the crashing shape (B = 1, I = 1)
at its first example, ``test_gate_ranges`` (probes of another shape) passes."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from lstm_verify.guard import _HUNG, ImplementationError, guarded_call, keep_alarm_handler, release_compiled_programs
from lstm_verify.config import options_from_env
from lstm_verify.runner import run_suite
from tests.catalogue import HERE

LAWS = "state_shapes or gate_ranges"


def check(target: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lstm_verify.cli", "check", f"{HERE}/crashing.py:{target}",
                           "--kind", "numpy-step", "--dtypes", "float64", "--profile", "ci", "-k", LAWS, "--quiet",
                           *args], capture_output=True, text=True, timeout=600)


def totals_add_up(stdout: str) -> bool:
    line = next(line for line in stdout.splitlines() if line.startswith("lstm-verify:"))
    counts = [int(n) for n in re.findall(r"(\d+) (?:passed|failed|crashed|skipped|xfailed)", line)]
    checks = [int(n) for n in re.findall(r"\((\d+) properties x (\d+) implementations", line)[0]]
    return sum(counts) == checks[0] * checks[1] == 2


def assert_crash_reported(run: subprocess.CompletedProcess, target: str, death: str) -> None:
    assert run.returncode == 1, run.stdout + run.stderr
    assert re.search(r"^test_state_shapes +crash$", run.stdout, re.M), run.stdout
    assert re.search(r"^test_gate_ranges +ok$", run.stdout, re.M), run.stdout
    assert f"crashed: {death} while running test_state_shapes[{target}-float64]" in run.stdout
    assert f"last call into the implementation: step of {target}-float64 with float64[1, 1]" in run.stdout
    assert "1 crashed" in run.stdout and totals_add_up(run.stdout), run.stdout


@pytest.mark.parametrize("target,death,workers", [("segfault", "SIGSEGV", "2"), ("aborts", "SIGABRT", "0"),
                                                  ("exits", "exit code 3", "2")])
def test_a_crash_is_a_named_failure_and_the_other_laws_run(target, death, workers):
    assert_crash_reported(check(target, "-n", workers), target, death)


def test_without_n_the_kit_survives_a_crash_and_its_reports_carry_it(tmp_path):
    """Without -n as well: the laws run in a worker process, never in the kit's own."""
    run = check("segfault", "--json", str(tmp_path / "report.json"), "--markdown", str(tmp_path / "report.md"))
    assert_crash_reported(run, "segfault", "SIGSEGV")
    records = {r["property"]: r for r in json.loads((tmp_path / "report.json").read_text())}
    crash = records["test_state_shapes"]
    assert crash["status"] == "crashed" and crash["reason"].startswith("crashed: SIGSEGV while running")
    assert "hypothesis cannot shrink across a dead process" in crash["counterexample"]
    assert 'crashing.py", line' in crash["counterexample"]  # the faulthandler's frame in the implementation
    assert crash["reproduce"].startswith("pytest --pyargs 'properties.test_shapes::test_state_shapes[segfault-float64]'")
    assert {r["status"] for r in records.values()} == {"passed", "crashed"}
    markdown = (tmp_path / "report.md").read_text()
    assert "| test_state_shapes | crash |" in markdown and "crashed: SIGSEGV" in markdown


def test_a_runaway_allocation_meets_the_memory_limit():
    run = check("memory_blowup", "--memory-limit", "1")
    assert run.returncode == 1, run.stdout + run.stderr
    assert re.search(r"^test_state_shapes +FAIL$", run.stdout, re.M), run.stdout
    assert "memory_blowup-float64: exceeded the memory limit (1 GiB) in step" in run.stdout
    assert totals_add_up(run.stdout)


def test_checks_left_without_a_result_count_as_crashed():
    """When xdist stops replacing crashed workers, the checks it never ran are still reported."""
    options = options_from_env(impl=f"{HERE}/crashing.py:segfault", kind="numpy-step", dtypes="float64", profile="ci")
    code, results, _ = run_suite(options, 1, pytest_extra=("-k", "state_shapes or dtype_preserved or gate_ranges",
                                                           "--max-worker-restart", "0"))
    status = {r.property: (r.status, r.reason) for r in results}
    assert code != 0 and len(status) == 3
    assert status["test_gate_ranges"][0] == "passed"
    assert status["test_state_shapes"] == ("crashed", "crashed: SIGSEGV while running test_state_shapes[segfault-float64]")
    assert status["test_dtype_preserved"][0] == "crashed"
    assert status["test_dtype_preserved"][1].startswith("no result: the run stopped before test_dtype_preserved")


def test_compiled_programs_are_dropped_before_the_memory_mappings_run_out():
    """A worker keeps JAX's compiled programs while the process holds less than the given share of
    vm.max_map_count; past it they are dropped (every XLA:CPU program holds mappings, and past the
    limit XLA segfaults)."""
    jax = pytest.importorskip("jax")
    if not os.path.exists("/proc/sys/vm/max_map_count"):
        pytest.skip("no /proc/sys/vm/max_map_count: the limit is Linux's")
    double = jax.jit(lambda x: 2 * x)
    double(1.0)
    assert not release_compiled_programs(share=1.0, every=0) and double._cache_size() == 1
    assert release_compiled_programs(share=0.0, every=0) and double._cache_size() == 0


@pytest.mark.parametrize("kept", [False, True], ids=["handler-per-call", "handler-kept"])
def test_a_call_that_does_not_return_times_out_and_the_alarm_handler_is_left_as_found(kept):
    """A hang is cut off at the limit whether the handler is installed per call (a caller's own
    process) or kept for good (a worker); per call, the caller's own handler is back afterwards."""
    def own(signum, frame):
        pass
    before = signal.signal(signal.SIGALRM, own)
    try:
        if kept:
            keep_alarm_handler()
        kept_handler = signal.getsignal(signal.SIGALRM)
        assert guarded_call("quick", "step", lambda: 7, limit=1.0) == 7
        start = time.perf_counter()
        with pytest.raises(ImplementationError, match="sleeper: step did not return within 0.2 s"):
            guarded_call("sleeper", "step", time.sleep, 5.0, limit=0.2)
        assert time.perf_counter() - start < 2.0
        assert signal.getsignal(signal.SIGALRM) is (kept_handler if kept else own)
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    finally:
        _HUNG.discard("sleeper")
        signal.signal(signal.SIGALRM, before)
