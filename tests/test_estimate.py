"""The newcomer's first run: ``lstm-verify check`` says before it starts how long its checks should
take (the cost table, shared among the workers, stored verdicts counted out) and, after each
check, how many are done and about how long is left; ``--quiet`` prints neither."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from lstm_verify.estimate import Estimate, duration, makespan
from lstm_verify.report.text import Progress
from lstm_verify.results import Result
from lstm_verify.runner import worker_count
from tests.catalogue import HERE

COSTS = {"test_a": {"x-float32": 10.0, "y-float32": 30.0, "*": 20.0},
         "test_b": {"x-float32": 4.0, "*": 4.0}}
"""A cost table: y-float32 has no time under test_b (it skipped when the table was measured)."""


def test_makespan_shares_the_seconds_but_never_beats_the_longest_check():
    assert makespan([10.0, 30.0, 20.0], 2) == 30.0
    assert makespan([10.0, 30.0, 20.0], 1) == 60.0
    assert makespan([30.0, 1.0], 4) == 30.0
    assert makespan([], 2) == 0.0


def test_a_check_costs_its_table_time_its_propertys_median_or_nothing_if_it_skipped_there():
    estimate = Estimate([("test_a", "x-float32"), ("test_a", "new-float32"), ("test_b", "y-float32"),
                         ("test_c", "x-float32")], COSTS, workers=1)
    assert estimate.expected == {("test_a", "x-float32"): 10.0, ("test_a", "new-float32"): 20.0,
                                 ("test_b", "y-float32"): 0.0, ("test_c", "x-float32"): 1.0}
    assert estimate.total() == 31.0


def test_stored_checks_are_not_in_the_plan_and_cost_nothing():
    """The plan is what will run: a check served from the store never reaches it."""
    everything = Estimate([("test_a", "x-float32"), ("test_a", "y-float32"), ("test_b", "x-float32")], COSTS, 2)
    without_stored = Estimate([("test_b", "x-float32")], COSTS, 2)
    assert (everything.total(), without_stored.total()) == (30.0, 4.0)


def test_what_remains_is_scaled_by_the_speed_the_finished_checks_showed():
    estimate = Estimate([("test_a", "x-float32"), ("test_a", "y-float32"), ("test_b", "x-float32")], COSTS, 1)
    assert estimate.remaining() == 44.0 and estimate.speed() == 1.0
    estimate.finish(("test_a", "x-float32"), 20.0)  # took twice its table time: this machine is slower
    assert estimate.speed() == 2.0 and estimate.remaining() == 2 * 34.0
    estimate.finish(("test_b", "x-float32"), 0.0, ran=False)  # a skip finishes but says nothing of speed
    assert estimate.speed() == 2.0 and estimate.remaining() == 2 * 30.0
    estimate.finish(("test_z", "x-float32"), 99.0)  # not planned (served from the store): ignored
    assert estimate.finished == {("test_a", "x-float32"), ("test_b", "x-float32")}


@pytest.mark.parametrize("seconds, text", [(0, "0 s"), (0.2, "1 s"), (42.4, "42 s"), (59.6, "1 min"),
                                           (7 * 60 + 20, "7 min"), (65 * 60, "1 h 5 min")])
def test_duration(seconds, text):
    assert duration(seconds) == text


@pytest.mark.parametrize("workers, count", [("0", 1), ("2", 2), (3, 3), ("auto", os.cpu_count() or 1)])
def test_worker_count(workers, count):
    assert worker_count(workers) == count


def test_progress_says_the_estimate_first_then_what_is_done_and_left():
    stream = io.StringIO()
    progress = Progress(COSTS, 2, stream)
    progress.plan([("test_a", "x-float32"), ("test_a", "y-float32")])
    progress(Result("x-float32", "test_a", "passed", seconds=5.0))
    progress(Result("y-float32", "test_a", "skipped", seconds=0.0))
    first, done, last = stream.getvalue().splitlines()
    assert first.startswith("lstm-verify: 2 checks to run on 2 workers, about 30 s (an estimate"), first
    assert done == "     ok  test_a[x-float32]  5.0s  [1/2, about 15 s left]", done  # 30 s at half the table's time
    assert last == "   skip  test_a[y-float32]  0.0s  [2/2]", last


def test_a_later_sessions_checks_join_the_estimate():
    """The Keras columns run in sessions of their own: their plan adds to the run's, so the count
    and what is left cover the whole run."""
    stream = io.StringIO()
    progress = Progress(COSTS, 1, stream)
    progress.plan([("test_a", "x-float32")])
    progress(Result("x-float32", "test_a", "passed", seconds=10.0))
    progress.plan([("test_b", "x-float32")])
    progress(Result("x-float32", "test_b", "passed", seconds=4.0))
    first, done, more, last = stream.getvalue().splitlines()
    assert first.startswith("lstm-verify: 1 check to run on 1 worker, about 10 s"), first
    assert done.endswith("[1/1]"), done
    assert more == ("lstm-verify: 1 more check to run in a session of their own (adapters that need another "
                    "environment), about 4 s"), more
    assert last.endswith("[2/2]"), last


def _check(cache, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lstm_verify.cli", "check", f"{HERE}/numpy_steps.py:step", "--kind",
                           "numpy-step", "--dtypes", "float64", "--profile", "ci", "--cache-dir", str(cache), *extra],
                          capture_output=True, text=True, timeout=600)


def test_the_command_counts_stored_verdicts_out_and_quiet_prints_no_progress(tmp_path, monkeypatch):
    monkeypatch.delenv("LSTM_VERIFY_FRESH", raising=False)  # tests/conftest.py: the kit's tests run fresh
    first = _check(tmp_path, "-k", "gate_order")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "lstm-verify: 1 check to run on 1 worker, about " in first.stderr, first.stderr
    assert "test_gate_order[step-float64]" in first.stderr and "[1/1]" in first.stderr, first.stderr
    second = _check(tmp_path, "-k", "gate_order or gate_ranges")  # gate_order's verdict is stored now
    assert "lstm-verify: 1 check to run on 1 worker, about " in second.stderr, second.stderr
    assert "test_gate_order[" not in second.stderr and "test_gate_ranges[step-float64]" in second.stderr
    quiet = _check(tmp_path, "-k", "gate_order or state_shapes", "--quiet")
    assert quiet.returncode == 0 and "to run on" not in quiet.stderr and "[1/1" not in quiet.stderr, quiet.stderr
