"""The laws every LSTM implementation must satisfy: one test per law, one module per chapter.

Run them with ``pytest --pyargs properties`` (the ``lstm_verify`` pytest plugin chooses the
implementations) or through ``lstm-verify check``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Callable

import pytest

from lstm_verify.board import failed_laws
from lstm_verify.tasks import TaskResult, undecided


def collect() -> dict[str, Callable]:
    """Every property function by name, in module order."""
    found: dict[str, Callable] = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("test_")):
        mod = importlib.import_module(f"{__name__}.{module}")
        for name, fn in inspect.getmembers(mod, inspect.isfunction):
            if name.startswith("test_") and fn.__module__ == mod.__name__:
                found[name] = fn
    return found


def requirements(prop: Callable) -> list[str]:
    """The capabilities a property needs (its ``requires`` marks)."""
    return [c for mark in getattr(prop, "pytestmark", []) if mark.name == "requires" for c in mark.args]


def skip_reason(prop: Callable, impl, profile: str) -> str | None:
    """Why the law ``prop`` does not apply to ``impl`` in ``profile``, or None: the implementation
    cannot run here (a missing library, an undeclared dtype), it declares no capability the law
    needs (its ``requires`` marks), or the law runs only in other profiles (its ``profiles`` mark)."""
    reason = impl.skip_reason()
    if reason:
        return reason
    missing = [c for c in requirements(prop) if not getattr(impl.capabilities, c)]
    if missing:
        return f"{impl.adapter.name} declares no {', '.join(missing)} capability"
    for mark in getattr(prop, "pytestmark", []):
        if mark.name == "profiles" and profile not in mark.args:
            return (f"runs only in the {' or '.join(mark.args)} profile ({mark.kwargs['cost']}); "
                    f"this run's profile is {profile}")
    return None


def stop_training(impl, law: str) -> Callable[[], bool]:
    """For :func:`lstm_verify.tasks.solve`: stop training once another law has failed ``impl`` in
    this run (:mod:`lstm_verify.board`)."""
    return lambda: bool(failed_laws(impl.id, law))


def skip_if_undecided(impl, law: str, results: list[TaskResult], attempts: int) -> None:
    """Skip a training law that :func:`stop_training` stopped before its runs decided anything."""
    if undecided(results, attempts):
        last = results[-1]
        when = (f"in run {len(results)} of {attempts}, at step {last.steps}" if last.outcome == "stopped"
                else f"after {len(results)} of {attempts} runs")
        pytest.skip(f"training stopped {when}, none solved: {impl.id} already "
                    f"fails {', '.join(failed_laws(impl.id, law))} in this run, and the runs left would not change "
                    "its verdict")

