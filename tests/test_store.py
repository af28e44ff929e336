"""Incremental verification (lstm_verify/store.py): each rule of what invalidates a stored verdict,
on the digests of a copy of the kit with one file changed, and the store end to end through the
command line (a second run serves every verdict, a changed TARGET runs again, a failure is never
stored, --fresh and a clean cache folder run everything)."""

import json
import shutil
from pathlib import Path

import pytest

import properties
from lstm_verify.adapters import builtin_adapter
from lstm_verify.cli import main
from lstm_verify.config import options_from_env
from lstm_verify.implementation import Implementation
from lstm_verify.store import FILE, KIT, LAWS, Inputs

ADAPTERS = ("numpy", "torch-cell", "paper-cell")  # torch-cell and paper-cell share adapters/_torch.py
LAW_MODULES = {name: fn.__module__ for name, fn in properties.collect().items()}


@pytest.fixture(scope="module")
def impls() -> list[Implementation]:
    return [Implementation(adapter, dtype) for adapter in map(builtin_adapter, ADAPTERS)
            for dtype in ("float32", "float64")]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the kit (lstm_verify/ and properties/) to change."""
    for folder in (KIT, LAWS):
        shutil.copytree(folder, tmp_path / folder.name, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def digests(tree: Path, impls: list[Implementation], **options: object) -> dict[tuple[str, str], str]:
    """Every (law, implementation) digest of the kit copy in ``tree``."""
    inputs = Inputs(options_from_env(**options), kit=tree / KIT.name, laws=tree / LAWS.name)
    return {(law, impl.id): inputs.digest(law, module, impl) for law, module in LAW_MODULES.items() for impl in impls}


def rerun(before: dict, after: dict) -> set[tuple[str, str]]:
    """The checks whose digest changed: those that run again."""
    return {check for check in before if before[check] != after[check]}


def append(path: Path, line: str = "\n_CHANGED = True\n") -> None:
    path.write_text(path.read_text() + line)


def test_a_change_to_the_error_model_reruns_every_check(tree, impls):
    before = digests(tree, impls)
    append(tree / "lstm_verify" / "error_model.py")
    assert rerun(before, digests(tree, impls)) == set(before)  # every agreement check among them


def test_a_change_to_an_adapter_file_reruns_its_column_only(tree, impls):
    before = digests(tree, impls)
    append(tree / "lstm_verify" / "adapters" / "numpy_lstm.py")
    assert rerun(before, digests(tree, impls)) == {c for c in before if c[1].startswith("numpy-")}


def test_a_change_to_a_shared_adapter_module_reruns_the_columns_importing_it(tree, impls):
    before = digests(tree, impls)
    append(tree / "lstm_verify" / "adapters" / "_torch.py")
    assert rerun(before, digests(tree, impls)) == {c for c in before if c[1].startswith(("torch-cell-", "paper-cell-"))}


def test_a_library_version_change_reruns_its_columns(tree, impls, monkeypatch):
    before = digests(tree, impls)
    torch_cell = next(i.adapter for i in impls if i.adapter.name == "torch-cell")
    monkeypatch.setattr(torch_cell, "version", lambda: "torch 0.0.1")
    assert rerun(before, digests(tree, impls)) == {c for c in before if c[1].startswith("torch-cell-")}


def test_a_changed_law_module_reruns_that_law_everywhere(tree, impls):
    before = digests(tree, impls)
    append(tree / "properties" / "test_cec.py")
    changed = {c for c in before if LAW_MODULES[c[0]] == "properties.test_cec"}
    assert changed and rerun(before, digests(tree, impls)) == changed


@pytest.mark.parametrize("option", [dict(profile="thorough"), dict(precision="tf32"), dict(timeout=5.0)])
def test_a_different_profile_or_run_option_reruns_every_check(tree, impls, option):
    assert rerun(digests(tree, impls), digests(tree, impls, **option)) == set(digests(tree, impls))


def test_a_different_hypothesis_seed_reruns_every_check(tree, impls):
    inputs = [Inputs(options_from_env(profile="dev"), seed, tree / KIT.name, tree / LAWS.name) for seed in (1, 2)]
    impl = impls[0]
    assert inputs[0].digest("test_gate_ranges", "properties.test_gates", impl) != \
           inputs[1].digest("test_gate_ranges", "properties.test_gates", impl)


STEP = (f"import sys\nsys.path.insert(0, {str(Path(__file__).parents[1])!r})  # the kit's checkout, for tests.catalogue\n"
        "from tests.catalogue.numpy_steps import {name} as step\n")


def check(tmp_path: Path, capsys: pytest.CaptureFixture, *more: str) -> tuple[int, list[dict]]:
    """``lstm-verify check`` of the TARGET ``tmp_path/target.py:step`` on two laws; its exit status
    and JSON records."""
    code = main(["check", f"{tmp_path}/target.py:step", "--kind", "numpy-step", "--dtypes", "float64", "--quiet",
                 "-k", "gate_ranges or step_agrees_with_reference", "--profile", "ci", "--shrink-seconds", "0",
                 "--cache-dir", str(tmp_path / "cache"), "--json", str(tmp_path / "report.json"), *more])
    capsys.readouterr()
    return code, json.loads((tmp_path / "report.json").read_text())


def stored(records: list[dict]) -> list[bool]:
    return [bool(r["stored"]) for r in records]


def test_the_store_end_to_end(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LSTM_VERIFY_FRESH", raising=False)  # tests/conftest.py: the kit's tests run fresh
    target = tmp_path / "target.py"
    target.write_text(STEP.format(name="step"))
    code, first = check(tmp_path, capsys)
    assert code == 0 and len(first) == 2 and stored(first) == [False, False]
    code, second = check(tmp_path, capsys)
    assert code == 0 and stored(second) == [True, True], second  # unchanged: every verdict served
    assert [(r["status"], r["examples"]) for r in second] == [(r["status"], r["examples"]) for r in first]
    assert stored(check(tmp_path, capsys, "--fresh")[1]) == [False, False]

    target.write_text(STEP.format(name="hard_sigmoid"))  # the TARGET file changed: both run, both fail
    for _ in range(2):  # and a failure is never stored: it runs again
        code, records = check(tmp_path, capsys)
        assert code == 1 and [r["status"] for r in records] == ["failed", "failed"] and stored(records) == [False] * 2
    target.write_text(STEP.format(name="step"))  # the failures dropped the checks' records: both run
    assert stored(check(tmp_path, capsys)[1]) == [False, False]
    (tmp_path / "cache" / FILE).unlink()
    assert stored(check(tmp_path, capsys)[1]) == [False, False]  # a clean cache folder runs everything


def test_a_random_profile_stores_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LSTM_VERIFY_FRESH", raising=False)
    (tmp_path / "target.py").write_text(STEP.format(name="step"))
    check(tmp_path, capsys, "--profile", "dev")
    assert not (tmp_path / "cache" / FILE).exists()
