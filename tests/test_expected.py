"""Expected failures are exact: an entry names the law and what fails in it; a different failure
fails, an expected failure that does not happen is reported (and fails under --strict-xfails),
and an entry carves out its own part of a law only. A run that checked nothing is never green."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lstm_verify.api import check_impl
from lstm_verify.checks import KitError, LawViolation, assert_close, check, observations
from lstm_verify.expected import Expected, ExpectedError, read_expected
from lstm_verify.implementation import implementation
from lstm_verify.results import NOTHING_CHECKED, exit_status
from tests.catalogue.numpy_steps import hard_sigmoid, step

HERE = Path(__file__).parent
GATE_RANGE = r"^gate [ifo] at pre-activation .* but should be in \(0, 1\)"


def statuses(results):
    return {r.property: r for r in results}


def test_an_entry_that_matches_the_failure_is_xfailed_with_what_happened():
    results = statuses(check_impl(hard_sigmoid, "numpy-step", dtypes=["float64"], profile="dev",
                                  xfail=[Expected("test_gate_ranges", "a hard sigmoid saturates", match=GATE_RANGE)]))
    gate = results["test_gate_ranges"]
    assert gate.status == "xfailed" and gate.reason == "a hard sigmoid saturates"
    assert gate.observed.startswith("gate ") and "should be in (0, 1)" in gate.observed, gate.observed
    assert results["test_step_agrees_with_reference"].status == "failed"  # no entry: still a failure


def test_an_entry_matched_by_a_different_failure_fails():
    entry = Expected("test_gate_ranges", "some other difference", match=r"^h\[")
    gate = statuses(check_impl(hard_sigmoid, "numpy-step", dtypes=["float64"], profile="dev", xfail=[entry],
                               ))["test_gate_ranges"]
    assert gate.status == "failed" and "should be in (0, 1)" in gate.reason


def test_an_exception_entry_needs_the_named_exception():
    entry = Expected("test_gate_ranges", "expects a crash that does not come", raises="KeyError")
    assert statuses(check_impl(hard_sigmoid, "numpy-step", dtypes=["float64"], profile="dev",
                               xfail=[entry]))["test_gate_ranges"].status == "failed"


def test_an_expected_failure_that_does_not_happen_is_xpassed_and_strict_fails_the_run(tmp_path):
    entry = Expected("test_gate_ranges", "believed broken", match=GATE_RANGE)
    results = check_impl(step, "numpy-step", dtypes=["float64"], profile="dev", xfail=[entry])
    gate = statuses(results)["test_gate_ranges"]
    assert gate.status == "xpassed" and gate.reason == "believed broken"
    assert exit_status(results) == 0 and exit_status(results, strict_xfails=True) == 1
    xfail = tmp_path / "expected.toml"
    xfail.write_text(f'[[expected]]\nlaw = "test_gate_ranges"\nmatch = \'{GATE_RANGE}\'\nreason = "believed broken"\n')
    run = subprocess.run([sys.executable, "-m", "lstm_verify.cli", "check", f"{HERE}/catalogue/numpy_steps.py:step",
                          "--kind", "numpy-step", "--dtypes", "float64", "-k", "gate_ranges", "--quiet",
                          "--xfail", str(xfail), "--strict-xfails"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "XPASS test_gate_ranges[step-float64]: the expected failure did not happen" in run.stdout
    assert "1 xpassed" in run.stdout


def test_a_difference_only_some_inputs_show_passes_when_the_examples_miss_it():
    entry = Expected("test_gate_ranges", "shows past a threshold", match=GATE_RANGE, always=False)
    gate = statuses(check_impl(step, "numpy-step", dtypes=["float64"], profile="dev", xfail=[entry]))["test_gate_ranges"]
    assert gate.status == "passed"
    caught = statuses(check_impl(hard_sigmoid, "numpy-step", dtypes=["float64"], profile="dev",
                                 xfail=[entry]))["test_gate_ranges"]
    assert caught.status == "xfailed"


def test_an_entry_carves_out_its_part_of_a_law_only():
    """The violation an entry matches is recorded and the law goes on; another part still fails it."""
    impl = implementation("numpy", "float64")
    observations("test_saturation_finite_and_bounded", [Expected("test_saturation_finite_and_bounded", "overshoot",
                                                                 match=r"^max \|h_t\|")])
    check(False, "max |h_t| = 1.0000001, but should be <= 1", impl)
    with pytest.raises(LawViolation, match="c_T"):
        check(False, "|c_T| exceeds |c_0| + T", impl)
    seen = observations()
    assert len(seen.absorbed) == 1 and seen.absorbed[0].startswith("max |h_t|")


def test_an_entry_outside_its_versions_is_not_applied_and_the_failure_says_so():
    entry = Expected("test_gate_ranges", "measured on an old numpy", match=GATE_RANGE, versions="numpy<1.0")
    gate = statuses(check_impl(hard_sigmoid, "numpy-step", dtypes=["float64"], profile="dev",
                               xfail=[entry]))["test_gate_ranges"]
    assert gate.status == "failed"
    assert "was not applied" in gate.counterexample and "declared for numpy<1.0, installed numpy" in gate.counterexample


@pytest.mark.parametrize("text, message", [
    ("test_gate_ranges: our hard sigmoid\n", "must now say what fails"),
    ('[[expected]]\nlaw = "test_gate_ranges"\nreason = "why"\n', "exactly one of match"),
    ('[[expected]]\nlaw = "test_gate_ranges"\nmatch = "x"\n', "needs a law"),
    ('[[expected]]\nlaw = "test_gate_ranges"\nmatch = "("\nreason = "why"\n', "not a regular expression"),
    ('[[expected]]\nlaw = "test_gate_ranges"\nmatch = "x"\nreason = "why"\nwhen = "now"\n', "unknown keys when"),
    ('[[expected]]\nlaw = "test_gate_ranges"\nmatch = "x"\nreason = "why"\nversions = "numpy=>1"\n', "versions"),
])
def test_malformed_entries_are_refused_with_the_reason(tmp_path, text, message):
    path = tmp_path / "expected.toml"
    path.write_text(text)
    with pytest.raises(ExpectedError, match=message):
        read_expected(path)


@pytest.mark.parametrize("want, bound, what", [(np.nan, 1.0, "expected value"), (0.5, np.inf, "error bound"),
                                               (0.5, np.nan, "error bound")])
def test_a_comparison_that_would_check_nothing_is_refused_naming_the_law(want, bound, what):
    impl = implementation("numpy", "float64")
    observations("test_some_law")
    with pytest.raises(KitError, match=f"test_some_law: the {what} of h\\[1\\]"):
        assert_close("h", np.array([0.5, 0.5]), np.array([0.5, want]), np.array([1.0, bound]), impl)
    observations()


def test_a_run_that_checked_nothing_exits_3_saying_so():
    run = subprocess.run([sys.executable, "-m", "lstm_verify.cli", "check", f"{HERE}/catalogue/numpy_steps.py:step",
                          "--kind", "numpy-step", "--dtypes", "float16", "-k", "gate_ranges", "--quiet"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == NOTHING_CHECKED, run.stdout + run.stderr
    assert "nothing was checked" in run.stderr and "0 passed" in run.stdout


def test_an_adapter_asked_for_by_name_that_cannot_run_exits_3_naming_it():
    run = subprocess.run([sys.executable, "-m", "lstm_verify.cli", "check", "--adapters", "numpy,torch-cell-cuda",
                          "--dtypes", "float64", "-k", "gate_ranges", "--quiet"],
                         capture_output=True, text=True, timeout=300)
    if "torch-cell-cuda-float64" in run.stdout and "ok" in run.stdout.split("torch-cell-cuda")[-1][:40]:
        pytest.skip("this machine has CUDA")
    assert run.returncode == NOTHING_CHECKED, run.stdout + run.stderr
    assert "lstm-verify: torch-cell-cuda: " in run.stderr and "nothing was checked" in run.stderr


def test_a_skip_inside_the_law_stays_a_skip_whatever_is_expected():
    """A law that skips after it started (a training law stopped because another law failed) checked
    nothing: an expected failure in force does not turn that into an unexpected pass."""
    from types import SimpleNamespace

    from lstm_verify.checks import Observations
    from lstm_verify.pytest_plugin import _ACTIVE, _expected_outcome

    item = SimpleNamespace(stash={_ACTIVE: (Expected("test_delayed_xor_solvable", "never trains", match="."),)})
    report = pytest.TestReport("properties/test_x.py::test_delayed_xor_solvable[a-float32]", ("x", 0, "t"), {},
                               "skipped", ("x", 0, "Skipped: training stopped"), "call")
    _expected_outcome(item, SimpleNamespace(excinfo=None), report, Observations())
    assert report.skipped and not hasattr(report, "wasxfail") and not report.user_properties


def test_an_adapter_whose_known_differences_are_malformed_is_a_usage_error_naming_it(tmp_path):
    """Not a run of crashed checks: exit 2 before any check runs, with the adapter, its dtype and the reason."""
    (tmp_path / "my_adapter.py").write_text(
        "from lstm_verify.adapters.numpy_lstm import NumpyAdapter\n"
        "from lstm_verify.expected import Expected\n\n"
        "class Mine(NumpyAdapter):\n"
        "    name = 'mine'\n\n"
        "    def known_differences(self, dtype):\n"
        "        return [Expected('test_gate_order', 'why', match='x', versions='numpy>=1,scipy==1')]\n")
    run = subprocess.run([sys.executable, "-m", "lstm_verify.cli", "check", f"{tmp_path}/my_adapter.py:Mine",
                          "--kind", "adapter", "--dtypes", "float64", "-k", "gate_order", "-n", "2", "--quiet",
                          "--cache-dir", str(tmp_path / "cache")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.startswith("lstm-verify: mine.known_differences('float64'): ") and "not one requirement" in run.stderr
    assert "crashed" not in run.stdout + run.stderr
