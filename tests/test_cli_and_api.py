"""The command line, check_impl, parametrize_with_impls and the expected-failures file,
used as a new user would use them."""

import json
import re
import subprocess
import sys

import pytest

from lstm_verify import check_impl, parametrize_with_impls
from lstm_verify.cli import _usage_error
from lstm_verify.config import options_from_env
from lstm_verify.runner import run_suite
from lstm_verify.targets import TargetError, load_object
from tests.catalogue import HERE
from tests.catalogue.numpy_steps import step as correct_step


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lstm_verify.cli", "check", *args, "--quiet", "--profile", "dev"],
                          capture_output=True, text=True, timeout=600)


def test_cli_fails_a_defective_step_naming_the_law_and_the_reproducer():
    run = cli(f"{HERE}/numpy_steps.py:hard_sigmoid", "--kind", "numpy-step", "--dtypes", "float64")
    assert run.returncode == 1, run.stderr
    assert "FAILED test_gate_ranges[hard_sigmoid-float64]" in run.stdout
    assert "law: For any pre-activation" in run.stdout
    assert re.search(r"(Falsifying example|Failing test case): test_gate_ranges\(\n"
                     r"      impl=Implementation\('hard_sigmoid', 'float64'\)", run.stdout), run.stdout
    assert "reproduce: pytest --pyargs 'properties.test_gates::test_gate_ranges[hard_sigmoid-float64]'" in run.stdout


def test_cli_passes_a_correct_step(tmp_path):
    run = cli(f"{HERE}/numpy_steps.py:step", "--kind", "numpy-step", "--dtypes", "float32",
              "--json", str(tmp_path / "report.json"))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 failed" in run.stdout
    step = next(r for r in json.loads((tmp_path / "report.json").read_text())
                if r["property"] == "test_step_agrees_with_reference")
    assert step["compared"] > 0 and step["loose"] == 0, step  # float32 bounds are far narrower than h and c


@pytest.mark.parametrize("args,message", [
    (("nowhere.py:Cell",), "no such file: nowhere.py"),
    ((f"{HERE}/numpy_steps.py:missing", "--kind", "numpy-step"), "has no attribute 'missing'"),
    (("no_colon",), "TARGET must look like"),
    ((f"{HERE}/numpy_steps.py:step", "--kind", "tensorflow"), "invalid choice"),
    ((f"{HERE}/numpy_steps.py:step", "--layout", "ifxo"), "--layout must be an order"),
])
def test_cli_exits_2_with_one_line_when_target_or_arguments_are_wrong(args, message):
    run = cli(*args)
    assert run.returncode == 2
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr


def test_cli_reports_a_target_that_fails_to_import_in_one_line(tmp_path):
    """The command imports TARGET only once pytest-xdist's workers are starting; a TARGET whose
    import raises still ends the run with one line and exit 2, and the workers are stopped."""
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('broken at import')\n")
    run = cli(f"{broken}:Cell", "-n", "2")
    assert run.returncode == 2
    assert "cannot import" in run.stderr and "RuntimeError: broken at import" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr


def test_a_target_that_loads_only_in_the_runner_ends_the_run_with_the_workers_line(tmp_path, monkeypatch):
    """A TARGET that imports in the runner's process but not in its xdist workers (here a module on
    the runner's ``sys.path`` only) stops the run at once with the worker's import error, the line
    the command prints: no check runs or is green, and no worker is replaced (each replacement
    failed the same way, up to MAX_RESTARTS times, leaving each dead worker's process behind)."""
    runner_only = tmp_path / "runner_only"
    runner_only.mkdir()
    (runner_only / "only_in_the_runner.py").write_text("def step(x, h, c, params):\n    raise AssertionError\n")
    monkeypatch.syspath_prepend(str(runner_only))
    (tmp_path / "target").mkdir()
    target = tmp_path / "target" / "uses_it.py"
    target.write_text("from only_in_the_runner import step\n")
    options = options_from_env(impl=f"{target}:step", kind="numpy-step", dtypes="float64", fresh=True)
    code, results, output = run_suite(options, 1, pytest_extra=("-k", "test_gate_order"))
    assert results == [] and code != 0 and "replacing crashed worker" not in output, output
    assert _usage_error(output) == (f"lstm-verify: gw0: cannot import {target}: ModuleNotFoundError: "
                                    "No module named 'only_in_the_runner'"), output


def test_check_impl_runs_each_call_in_its_own_profile():
    """In one process, a second check_impl in another profile draws that profile's examples
    (hypothesis fixes a law's settings when its module is imported: the first run's profile
    stuck to every later in-process run)."""
    examples = {}
    for profile in ("dev", "ci"):
        results = check_impl(correct_step, "numpy-step", dtypes=["float64"], profile=profile)
        examples[profile] = next(r.examples for r in results if r.property == "test_step_agrees_with_reference")
    assert examples == {"dev": 8, "ci": 25}


def test_target_import_errors_are_one_line(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("import does_not_exist\n")
    with pytest.raises(TargetError, match="cannot import .*ModuleNotFoundError"):
        load_object(f"{broken}:Cell")


@parametrize_with_impls([correct_step], kind="numpy-step", dtypes=["float64"])
def test_parametrize_with_impls(impl, law):
    """What an adopter's own test file looks like."""
    law(impl)
