"""The one runner: runs the property suite through pytest (in parallel with pytest-xdist)
and returns one :class:`~lstm_verify.results.Result` per implementation and property. The
command line and :func:`lstm_verify.api.check_impl` use it; the pytest plugin supplies
everything else.

The laws run in pytest-xdist workers (one when no ``-n`` is asked for), never in the
runner's own process, so an implementation that crashes takes down only a worker: xdist
starts a fresh one for the checks that follow, and every collected check that produced no
result becomes a ``crashed`` record, counted as a failure. Adapters handed over as objects
(:func:`lstm_verify.api.check_impl` with a class) run in this process instead."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

import pytest

import properties
from lstm_verify.adapters import Adapter
from lstm_verify.config import Options, pytest_args
from lstm_verify.pytest_plugin import InjectedAdapters
from lstm_verify.results import MAX_RESTARTS, Collector, Result


def worker_count(workers: int | str) -> int:
    """How many processes run the laws for ``-n workers``: 'auto' is one per CPU, 0 is one."""
    return (os.cpu_count() or 1) if str(workers) == "auto" else max(1, int(workers))


def memory_limit(workers: int | str) -> float:
    """The default memory limit of one worker in GiB: the machine's RAM shared by the workers,
    at least 2 GiB."""
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return round(max(2.0, ram / worker_count(workers)), 1)


def run_suite(options: Options, workers: int | str = 0, progress: Callable[[Result], None] | None = None,
              pytest_extra: tuple[str, ...] = (), adapters: list[Adapter] | None = None,
              plan: Callable[[list[tuple[str, str]]], None] | None = None) -> tuple[int, list[Result], str]:
    """Run every property with ``options``: collect the checks, run them, gather one result each.

    ``adapters``: implementations handed over as objects, run in this process; otherwise the laws
    run in xdist workers (at least one) and ``memory_limit`` defaults to :func:`memory_limit`.
    ``plan`` is called once, before the first check runs, with the (property, implementation) of
    every check that will run (not those served from the store); ``progress`` after each.
    Returns pytest's exit code, one result per collected check sorted by property and
    implementation, and pytest's own output, its standard error last (shown by callers only when
    something went wrong: the last line names a TARGET that did not load)."""
    isolated = adapters is None
    workers = workers if str(workers) not in ("0", "") or not isolated else 1
    if options.memory_limit is None and isolated:
        options = replace(options, memory_limit=memory_limit(workers))
    args = [str(Path(properties.__file__).parent), "-q", "--assert=plain", "-p", "no:cacheprovider",
            "-W", "ignore::DeprecationWarning", "-p", "lstm_verify.shard", *pytest_args(options)]
    plugins: list[object] = []
    if isolated:
        args += ["-n", str(workers), "--max-worker-restart", str(MAX_RESTARTS), "-p", "no:faulthandler"]
    else:  # hypothesis fixes a law's settings when its module is imported: import them afresh, in this run's profile
        for name in [m for m in sys.modules if m.startswith(f"{properties.__name__}.")]:
            del sys.modules[name]
        plugins.append(InjectedAdapters(adapters))
    output, errors = io.StringIO(), io.StringIO()
    with tempfile.TemporaryDirectory(prefix="lstm-verify-") as crash_dir:
        collector = Collector(progress, crash_dir if isolated else "", plan)
        environ = {"LSTM_VERIFY_CRASH_DIR": crash_dir} if isolated else {}
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(errors), _environ(environ):
            code = pytest.main([*args, *pytest_extra], plugins=[collector, *plugins])
    collector.account(int(code))
    for result in collector.results.values():
        result.shard = options.shard or ""
    results = sorted(collector.results.values(), key=lambda r: (r.property, r.implementation))
    return int(code), results, output.getvalue() + errors.getvalue()


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration (xdist workers inherit them)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
