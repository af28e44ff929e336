"""The one runner: runs the property suite through pytest (in parallel with pytest-xdist)
and returns one :class:`~lstm_verify.results.Result` per implementation and property. The
command line and :func:`lstm_verify.api.check_impl` use it; the pytest plugin supplies
everything else.

The laws run in pytest-xdist workers (one when no ``-n`` is asked for), never in the
runner's own process, so an implementation that crashes takes down only a worker: xdist
starts a fresh one for the checks that follow, and every collected check that produced no
result becomes a ``crashed`` record, counted as a failure. Adapters handed over as objects
(:func:`lstm_verify.api.check_impl` with a class) run in this process instead.

Adapters that declare an :attr:`~lstm_verify.adapters.Adapter.environment` (the Keras
columns' ``KERAS_BACKEND``, read once when Keras is imported; an adapter class of the user's own
may too) run in one pytest session per
distinct environment, its variables set for the session's workers; the sessions' results are
merged into one list, in one progress stream."""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
import threading
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

import pytest

import properties
from lstm_verify.adapters import BUILTIN, Adapter, builtin_adapter
from lstm_verify.config import Options, pytest_args
from lstm_verify.pytest_plugin import InjectedAdapters
from lstm_verify.results import MAX_RESTARTS, Collector, Result
from lstm_verify.targets import TargetError, target_adapters


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
    run in xdist workers (at least one) and ``memory_limit`` defaults to :func:`memory_limit`, and
    built-in adapters run in one session per environment they need (:func:`environments`).
    ``plan`` is called before the first check of each session runs, with the (property,
    implementation) of every check that will run in it (not those served from the store);
    ``progress`` after each check. Returns pytest's exit code (the most severe of the sessions'),
    one result per collected check sorted by property and implementation, and pytest's own output,
    its standard error last (shown by callers only when something went wrong: the last line names
    a TARGET that did not load)."""
    groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
    if adapters is None:
        with without_native_noise():  # reading the adapters imports TensorFlow here, with its banner
            groups = environments(options)
    if len(groups) <= 1:
        environ = next(iter(groups), ())
        return _session(options, workers, progress, pytest_extra, adapters, dict(environ), plan)
    codes, results, outputs = [], [], []
    for environ, names in groups.items():
        code, found, output = _session(replace(options, adapters=",".join(names)), workers, progress, pytest_extra,
                                       None, dict(environ), plan)
        codes.append(code)
        results += found
        outputs.append(output)
    return (_most_severe(codes), sorted(results, key=lambda r: (r.property, r.implementation)),
            "\n".join(outputs))


def environments(options: Options) -> dict[tuple[tuple[str, str], ...], list[str]]:
    """The built-in adapters ``options`` name, by the environment each needs (its variables, sorted):
    imports each adapter's module, not its library where the module defers it (the Keras columns).
    A TARGET of ``--kind adapter`` (an adapter of the user's own) is one group with the environment
    it declares; a TARGET that does not load is left to the session to report."""
    if options.impl:
        try:
            found = target_adapters(options.impl, options.kind, options.layout) if options.kind == "adapter" else []
        except TargetError:
            found = []
        return {tuple(sorted(found[0].environment.items())) if found else (): []}
    names = [n.strip() for n in options.adapters.split(",") if n.strip()]
    groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for name in list(BUILTIN) if names == ["all"] else names:
        environ = tuple(sorted(builtin_adapter(name).environment.items())) if name in BUILTIN else ()
        groups.setdefault(environ, []).append(name)  # an unknown name: the session's usage error says so
    return groups


def _most_severe(codes: list[int]) -> int:
    """One exit code for several pytest sessions: the highest, except that a session that collected
    nothing (5) counts only when every one did."""
    return max((c for c in codes if c != pytest.ExitCode.NO_TESTS_COLLECTED), default=codes[0])


def _session(options: Options, workers: int | str, progress: Callable[[Result], None] | None,
             pytest_extra: tuple[str, ...], adapters: list[Adapter] | None, environ: dict[str, str],
             plan: Callable[[list[tuple[str, str]]], None] | None = None) -> tuple[int, list[Result], str]:
    """One pytest session of :func:`run_suite`, with ``environ`` set for it and its workers."""
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
        if isolated:
            environ = {**{k: os.environ.get(k, v) for k, v in QUIET.items()}, **environ,
                       "LSTM_VERIFY_CRASH_DIR": crash_dir}
        with (contextlib.redirect_stdout(output), contextlib.redirect_stderr(errors), _environ(environ),
              without_native_noise() if isolated else contextlib.nullcontext()):
            code = pytest.main([*args, *pytest_extra], plugins=[collector, *plugins])
    collector.account(int(code))
    for result in collector.results.values():
        result.shard = options.shard or ""
    results = sorted(collector.results.values(), key=lambda r: (r.property, r.implementation))
    return int(code), results, output.getvalue() + errors.getvalue()


QUIET = {"TF_CPP_MIN_LOG_LEVEL": "3"}
"""The environment the processes running the laws get unless it is set: TensorFlow's and XLA's
native logs, errors only."""
NATIVE_NOISE = re.compile(rb"WARNING: All log messages before absl::InitializeLog\(\) is called"
                          rb"|[IW]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] |To enable the following instructions: ")
"""What :func:`without_native_noise` drops: absl's banner and native INFO and WARNING lines (absl's
format: ``I0000 00:00:1796602018.766848   28112 port.cc:153] oneDNN custom operations are on ...``),
with the continuation of TensorFlow's CPU-feature notice. TensorFlow 2.21 prints its oneDNN notice
this way whatever ``TF_CPP_MIN_LOG_LEVEL`` says, once per process and again at its first op."""


@contextlib.contextmanager
def without_native_noise() -> Iterator[None]:
    """This process's standard error (file descriptor 2, which the xdist workers it starts
    inherit) through a filter that drops :data:`NATIVE_NOISE` and passes every other line on at
    once: the frameworks' start-up logs, one set per worker, said nothing about the checks."""
    sys.stderr.flush()
    read, write = os.pipe()
    terminal = os.dup(2)
    os.dup2(write, 2)
    os.close(write)

    def forward() -> None:
        with os.fdopen(read, "rb") as pipe:
            for line in pipe:
                if not NATIVE_NOISE.match(line):
                    os.write(terminal, line)
    thread = threading.Thread(target=forward, name="lstm-verify-stderr", daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(terminal, 2)  # the pipe's last writer here: the filter reads to its end
        thread.join(timeout=5)
        os.close(terminal)


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
