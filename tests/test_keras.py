"""Keras on each back end: the runner runs each environment's adapters in a session of its own and
merges the results; a check whose adapter needs another environment is refused, never green; each
back end's column passes laws of every kind (a sequence law, a masked one, a gradient law); a Keras
layer on TensorFlow ported with two gate blocks swapped fails."""

import importlib.util

import pytest

from lstm_verify.adapters import builtin_adapter
from lstm_verify.config import options_from_env
from lstm_verify.results import exit_status
from lstm_verify.runner import environments, run_suite
from tests.catalogue import HERE

pytest.importorskip("keras")

BACKENDS = ("torch", "tensorflow", "jax")
LAWS = ("test_gate_order", "test_variable_lengths", "test_gradients_agree_with_bptt")


@pytest.fixture(scope="module")
def keras_run():
    """One run of every Keras column and numpy (four environments), float32, a few laws."""
    options = options_from_env(adapters=",".join(["numpy", *(f"keras-{b}" for b in BACKENDS)]), dtypes="float32",
                               fresh=True)
    return options, run_suite(options, 1, pytest_extra=("-k", " or ".join(LAWS)))


def test_one_run_runs_each_environment_in_its_own_session_and_merges_them(keras_run):
    options, (code, results, _) = keras_run
    assert len(environments(options)) == 1 + len(BACKENDS)
    assert {r.implementation for r in results} == {"numpy-float32", *(f"keras-{b}-float32" for b in BACKENDS)}
    assert len(results) == len(LAWS) * (1 + len(BACKENDS))
    assert code == 0 and exit_status(results) == 0, [(r.implementation, r.property, r.reason) for r in results]


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_back_end_passes_laws_of_every_kind(keras_run, backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    mine = {r.property: r for r in keras_run[1][1] if r.implementation == f"keras-{backend}-float32"}
    assert {law: mine[law].status for law in LAWS} == dict.fromkeys(LAWS, "passed")


def test_an_adapter_in_a_process_of_another_environment_is_refused_not_skipped(monkeypatch):
    """A session whose process has another KERAS_BACKEND fails every check of the column with one
    line naming what it needs (Keras is never imported: the refusal comes first)."""
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    adapter = builtin_adapter("keras-torch")
    code, results, _ = run_suite(options_from_env(dtypes="float32", fresh=True), adapters=[adapter],
                                 pytest_extra=("-k", "test_gate_order or test_state_shapes"))
    assert [r.status for r in results] == ["failed", "failed"]
    assert {r.reason for r in results} == {
        "Failed: keras-torch needs KERAS_BACKEND=torch (this process has jax), read once when its library is imported: "
        "refused here (lstm-verify check runs each environment's adapters in a session of their own)"}
    assert exit_status(results) == 1 and code == 1


def test_laws_catch_a_keras_layer_with_swapped_gate_blocks(monkeypatch):
    """The catalogue's Keras-on-TensorFlow twin, a TARGET adapter: the runner sets the KERAS_BACKEND
    its class declares, whatever the caller's process has."""
    pytest.importorskip("tensorflow")
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    laws = ("test_gate_order", "test_step_agrees_with_reference")
    options = options_from_env(impl=f"{HERE}/keras_models.py:SwappedGateBlocks", kind="adapter", dtypes="float32",
                               fresh=True, shrink_seconds=0)
    code, results, _ = run_suite(options, 1, pytest_extra=("-k", " or ".join(laws)))
    assert {r.property: r.status for r in results} == dict.fromkeys(laws, "failed"), [r.reason for r in results]
    assert all("keras-swapped-gate-blocks" in r.reason for r in results) and code == 1
