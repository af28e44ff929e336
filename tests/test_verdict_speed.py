"""Fast verdicts (issue 12): shrinking within a budget and saying when it was cut short, failures
streamed as they arrive, the checks ordered longest first, and training runs that stop once
their outcome is decided, and the processes the kit owns ending without teardown."""

import collections
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis.internal.conjecture import engine

import properties
from lstm_verify.pytest_plugin import budget_shrinking
from lstm_verify.reference import PLAIN
from lstm_verify.shard import cost, load_costs
from lstm_verify import board
from lstm_verify.tasks import DELAYED_XOR, solve, undecided
from tests.catalogue import HERE


def test_a_failure_streams_at_once_and_says_its_shrinking_was_cut_short(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "lstm_verify.cli", "check", f"{HERE}/numpy_steps.py:hard_sigmoid", "--kind",
         "numpy-step", "--dtypes", "float64", "--profile", "ci", "-k", "gate_order or gate_ranges", "--json",
         str(tmp_path / "report.json"), "--cache-dir", str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=600, env={**os.environ, "LSTM_VERIFY_SHRINK_SECONDS": "0"})
    assert run.returncode == 1, run.stdout + run.stderr
    lines = run.stderr.splitlines()
    progress = [k for k, line in enumerate(lines) if line.lstrip().startswith("FAIL ")]
    assert len(progress) == 2, run.stderr
    first = "\n".join(lines[progress[0] + 1:progress[1]])  # printed before the second check finished
    name = lines[progress[0]].split()[1]
    assert first.startswith(f"FAILED {name}") and "  law: " in first and "  reproduce: " in first, run.stderr
    assert "shrinking cut short by its budget of 0 s" in first
    assert first.strip() in run.stdout  # and again in the final report
    records = json.loads((tmp_path / "report.json").read_text())
    assert all("shrinking cut short" in r["counterexample"] for r in records)


def test_a_failure_is_not_explained_in_the_ci_profile(tmp_path):
    """No explain phase after shrinking (pytest_plugin.VERDICT_PHASES): it reran the law to comment
    the arguments that do not matter, here ``huge``, seconds per failing check."""
    run = subprocess.run(
        [sys.executable, "-m", "lstm_verify.cli", "check", f"{HERE}/numpy_steps.py:hard_sigmoid", "--kind",
         "numpy-step", "--dtypes", "float64", "--profile", "ci", "-k", "gate_ranges", "--quiet",
         "--cache-dir", str(tmp_path / "cache")], capture_output=True, text=True, timeout=600)
    assert run.returncode == 1 and "huge=array(" in run.stdout, run.stdout + run.stderr
    assert "or any other generated value" not in run.stdout, run.stdout


def test_the_shrink_budget_is_set_and_undone():
    before = engine.MAX_SHRINKING_SECONDS
    undo = budget_shrinking(2.5)
    assert engine.MAX_SHRINKING_SECONDS == 2.5
    undo()
    assert engine.MAX_SHRINKING_SECONDS == before
    budget_shrinking(None)()  # the thorough profile keeps hypothesis's own limit
    assert engine.MAX_SHRINKING_SECONDS == before


def test_checks_are_collected_longest_first():
    run = subprocess.run([sys.executable, "-m", "pytest", str(Path(properties.__file__).parent), "--collect-only",
                          "-q", "-p", "no:cacheprovider", "--lstm-adapters", "numpy", "--lstm-dtypes", "float64"],
                         capture_output=True, text=True, timeout=300)
    ids = [line.rpartition("::")[2] for line in run.stdout.splitlines() if "::" in line]
    costs = load_costs()
    seconds = [cost(costs, i.partition("[")[0], "numpy-float64") for i in ids]
    assert len(ids) > 20 and seconds == sorted(seconds, reverse=True) and seconds[0] > 5 * seconds[-1], run.stdout


class _Constant:
    """An implementation whose final hidden state is ``value`` whatever the input: 0 learns
    nothing (the loss stays at chance), NaN diverges at once."""

    variant = PLAIN

    def __init__(self, value: float) -> None:
        self.value = value

    def run(self, params, xs, h0, c0):
        return None, (np.full_like(h0, self.value), c0)

    def run_with_pullback(self, params, xs, h0, c0):
        zeros = SimpleNamespace(**{n: np.zeros_like(getattr(params, n)) for n in ("w_ih", "w_hh", "b_ih", "b_hh")})
        return (*self.run(params, xs, h0, c0), lambda gh, gc: zeros)


def test_stalled_runs_stop_at_their_check_and_restart():
    results = solve(_Constant(0.0), DELAYED_XOR, lag=5, attempts=3, max_steps=40, stall_check=20)
    assert [(r.outcome, r.steps, r.solved) for r in results] == [("stalled", 20, False)] * 3


def test_a_diverged_run_ends_the_restarts():
    results = solve(_Constant(np.nan), DELAYED_XOR, lag=5, attempts=3, max_steps=40, stall_check=20)
    assert [(r.outcome, r.steps, r.solved) for r in results] == [("diverged", 1, False)]


def test_without_a_stall_check_a_run_uses_its_steps():
    results = solve(_Constant(0.0), DELAYED_XOR, lag=5, attempts=1, max_steps=30)
    assert [(r.outcome, r.steps) for r in results] == [("unsolved", 30)]


def test_the_board_names_the_laws_failed_elsewhere(tmp_path, monkeypatch):
    """Failures posted by one worker are seen by another (by implementation, any id, never the
    asking law itself); outside a run, and after it, there is no board."""
    monkeypatch.delenv(board.ENV, raising=False)
    board.post("model/dec-float32", "test_gate_order")  # no board: nothing, no error
    close = board.open_board(tmp_path)
    folder = os.environ[board.ENV]
    board.post("model/dec-float32", "test_gate_order")
    board.post("model/dec-float32", "test_delayed_xor_solvable")
    board.post("model-float32", "test_state_shapes")
    assert board.failed_laws("model/dec-float32", but="test_delayed_xor_solvable") == ["test_gate_order"]
    assert board.failed_laws("model-float32", but="test_gate_order") == ["test_state_shapes"]
    assert board.failed_laws("numpy-float64", but="test_gate_order") == []
    close()
    assert board.ENV not in os.environ and not Path(folder).exists()
    assert board.failed_laws("model-float32", but="test_gate_order") == []


def test_an_interrupted_runs_board_is_removed_by_the_next_run(tmp_path, monkeypatch):
    """A run killed before its cleanup leaves its board; the next run removes it (its process is
    gone) and keeps the board of a run still going."""
    monkeypatch.delenv(board.ENV, raising=False)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale, live = tmp_path / f"board-{gone.stdout.strip()}-x", tmp_path / f"board-{os.getpid()}-y"
    for folder in (stale, live):
        folder.mkdir()
        (folder / "impl@@law").touch()
    close = board.open_board(tmp_path)
    assert not stale.exists() and live.exists()
    close()


def test_a_stopped_training_law_is_skipped_as_undecided_not_failed():
    stopped = solve(_Constant(0.0), DELAYED_XOR, lag=5, attempts=3, max_steps=40, stall_check=20, stop=lambda: True)
    assert [(r.outcome, r.steps) for r in stopped] == [("stopped", 10)] and undecided(stopped, 3)
    told = iter([False] * 4 + [True])  # asked at steps 10, 20, 30 of run 1, before run 2, at step 10 of run 2
    last = solve(_Constant(0.0), DELAYED_XOR, lag=5, attempts=2, max_steps=30, stop=lambda: next(told))
    assert [(r.outcome, r.steps) for r in last] == [("unsolved", 30), ("stopped", 10)] and undecided(last, 2)
    assert not undecided(solve(_Constant(0.0), DELAYED_XOR, lag=5, attempts=3, max_steps=40, stall_check=20), 3)
    assert not undecided(solve(_Constant(np.nan), DELAYED_XOR, lag=5, attempts=3, max_steps=40,
                               stop=lambda: True), 3)  # diverged: decided


def test_a_defective_cell_stops_training_once_another_law_fails_it(tmp_path):
    """The detached carry (no gradient through c across steps) fails BPTT agreement in seconds
    on one worker; the delayed-XOR law on the other stops training (within its run, or before a
    restart) and is skipped, naming it."""
    report = tmp_path / "report.json"
    run = subprocess.run(
        [sys.executable, "-m", "lstm_verify.cli", "check", f"{HERE}/torch_cells.py:DetachedCarryCell", "--dtypes",
         "float64", "--profile", "ci", "-n", "2", "-k", "delayed_xor or gradients_agree_with_bptt", "--json",
         str(report), "--cache-dir", str(tmp_path / "cache")], capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stdout + run.stderr
    records = {r["property"]: r for r in json.loads(report.read_text())}
    assert records["test_gradients_agree_with_bptt"]["status"] == "failed"
    xor = records["test_delayed_xor_solvable"]
    assert xor["status"] == "skipped", xor
    assert "training stopped " in xor["reason"] and "test_gradients_agree_with_bptt" in xor["reason"], xor


def test_an_expected_failure_is_not_shrunk(tmp_path):
    """A law expected to end in an exception is decided by its first failing example: it runs no
    shrinking after it, where the same failure not expected is shrunk (more calls). The step raises
    only for a batch of five whose first input is positive, so its first failing example is not the
    minimal one and shrinking has work to do (a step failing everywhere fails at the simplest
    example, which needs no shrinking). Each run is a fresh ``lstm-verify check`` with its own cache
    folder, so nothing is replayed."""
    log = tmp_path / "calls.txt"
    (tmp_path / "counted.py").write_text(
        "import os\n"
        "from tests.catalogue.numpy_steps import step\n"
        "def counted(x, *args):\n"
        "    with open(os.environ['CALLS_LOG'], 'a') as fh:\n"
        "        fh.write('.')\n"
        "    if x.shape[0] == 5 and x[0, 0] > 0:\n"
        "        raise ValueError('planted')\n"
        "    return step(x, *args)\n")
    xfail = tmp_path / "xfail.toml"
    xfail.write_text('[[expected]]\nlaw = "test_step_agrees_with_reference"\nraises = "ImplementationError: planted"\n'
                     'reason = "a known difference"\n')
    counts = {}
    for expected in (True, False):
        log.write_text("")
        run = subprocess.run([sys.executable, "-m", "lstm_verify.cli", "check", f"{tmp_path}/counted.py:counted",
                              "--kind", "numpy-step", "--dtypes", "float64", "--profile", "ci", "--quiet",
                              "-k", "test_step_agrees_with_reference", "--cache-dir", str(tmp_path / f"cache-{expected}"),
                              *(["--xfail", str(xfail)] if expected else [])],
                             capture_output=True, text=True, timeout=300,
                             env={**os.environ, "CALLS_LOG": str(log), "PYTHONPATH": str(HERE.parents[1])})
        assert run.returncode == (0 if expected else 1), run.stdout + run.stderr
        counts[expected] = len(log.read_text())
    assert counts[True] + 5 <= counts[False], counts


def test_each_check_records_its_jax_compiling():
    """A JAX check's record says how much of its time JAX spent compiling (tracing at least, even
    with the compilations cached); a check without JAX says 0."""
    from lstm_verify.config import options_from_env
    from lstm_verify.runner import run_suite
    results = run_suite(options_from_env(adapters="jax,numpy", dtypes="float32", profile="ci"),
                        pytest_extra=("-k", "test_step_agrees_with_reference"))[1]
    compiling = {r.implementation: r.compile_seconds for r in results}
    assert compiling["numpy-float32"] == 0.0 and 0.0 < compiling["jax-float32"], compiling
    assert all(r.compile_seconds <= r.seconds for r in results)


def test_a_process_the_kit_owns_ends_with_its_output_flushed_and_its_code_without_teardown():
    """``lstm-verify`` and its workers end through ``end_without_teardown``: what they printed
    reaches a pipe, the exit status is theirs, and no exit handler or teardown runs after it."""
    code = ("import atexit, sys; from lstm_verify.guard import end_without_teardown; "
            "atexit.register(print, 'teardown ran'); print('result', end=''); print('warning', file=sys.stderr, end=''); "
            "end_without_teardown(3)")
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # as a pipe is by default
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=buffered)
    assert (run.returncode, run.stdout, run.stderr) == (3, "result", "warning")


def test_jax_gradients_compile_once_per_shape_whatever_the_length():
    """A JAX implementation's gradients (JaxFunctions.bptt) compile one pullback and one step per
    shape for sequences of every length, where jax.grad through a lax.scan compiles one per
    length, and agree with it; the laws' own calls of the step, with NumPy arrays where BPTT
    passes JAX arrays, compile nothing more."""
    jax = pytest.importorskip("jax")
    import jax.monitoring
    from lstm_verify.adapters.jax_lstm import cell
    from lstm_verify.adapters.jax_step import JaxFunctions, placed

    def own_cell(*args):
        """jax_lstm's cell under a name of its own: jax.jit shares one program cache among the
        wrappers of one function, and other tests in this worker may have compiled jax_lstm's."""
        return cell(*args)

    compiled = collections.Counter()

    def heard(event: str, seconds: float, fun_name: str = "", **_: object) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            compiled[fun_name] += 1

    fns, rng, (batch, inputs, hidden) = JaxFunctions(own_cell), np.random.default_rng(0), (3, 2, 5)
    params = placed({"w_ih": rng.normal(size=(4 * hidden, inputs)), "w_hh": rng.normal(size=(4 * hidden, hidden)),
                     "b_ih": rng.normal(size=4 * hidden), "b_hh": rng.normal(size=4 * hidden)}, "float32")
    jax.monitoring.register_event_duration_secs_listener(heard)
    try:
        for steps in (1, 3, 8, 25):
            shapes = ((steps, batch, inputs), (batch, hidden), (batch, hidden), (steps, batch, hidden), (batch, hidden))
            arrays = [rng.normal(size=s).astype(np.float32) for s in shapes]
            got, want = fns.bptt(params, *arrays), fns.grads(params, *arrays)
            for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
                np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
            fns.step(params, arrays[0][0], arrays[1], arrays[2])
    finally:
        jax.monitoring.unregister_event_duration_listener(heard)
    assert compiled["jit(pullback)"] == 1 and compiled["jit(own_cell)"] == 1, compiled
    assert compiled["jit(loss)"] == 4, compiled
