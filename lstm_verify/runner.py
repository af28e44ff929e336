"""The one runner: runs the property suite through pytest (in parallel with pytest-xdist)
and returns one :class:`Result` per implementation and property. The command line and
:func:`lstm_verify.api.check_impl` use it; the pytest plugin supplies everything else.

The laws run in pytest-xdist workers (one when no ``-n`` is asked for), never in the
runner's own process, so an implementation that crashes takes down only a worker: xdist
starts a fresh one for the checks that follow, and every collected check that produced no
result becomes a ``crashed`` record, counted as a failure."""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

import properties
from lstm_verify import pytest_plugin
from lstm_verify.guard import read_trace

STATUSES = ("passed", "failed", "crashed", "skipped", "xfailed")
MARKS = {"passed": "ok", "failed": "FAIL", "crashed": "crash", "skipped": "skip", "xfailed": "xfail"}
FAILING = ("failed", "crashed")
MAX_RESTARTS = 100
"""Crashed workers xdist replaces before it stops the run (the checks left count as crashed)."""


@dataclass
class Result:
    """What happened to one property on one implementation."""

    implementation: str
    property: str
    status: str
    reason: str = ""
    counterexample: str = ""
    reproduce: str = ""
    seconds: float = 0.0
    examples: int = 0
    sizes: str = ""
    """The shapes the check covered, e.g. 'B 1-4, I 1-5, H 1-6, T 1-8 (9 shapes)' (empty: not recorded)."""
    margin: float = 0.0
    """The largest |got - want| / error bound any comparison of the check saw (0: none made)."""
    compared: int = 0
    """The values the check compared with the reference within an error bound."""
    loose: int = 0
    """Of ``compared``, those whose bound was at least the largest |value| of their array: there a
    wrong value of the right size would pass (:mod:`lstm_verify.checks`)."""
    shard: str = ""
    """'K/N' when the check ran in shard K of N (``lstm-verify check --shard``), else empty."""
    compile_seconds: float = 0.0
    """Of ``seconds``, those JAX spent tracing, lowering and compiling (0 without JAX; less with
    the cache folder's compilations kept)."""

    def as_dict(self) -> dict:
        return asdict(self)


def _counterexample(report: pytest.TestReport) -> str:
    """The 'Falsifying example: ...' block of a hypothesis failure (newer hypothesis says
    'Failing test case: ...'), without pytest's margin."""
    lines = [line[1:] for line in report.longreprtext.splitlines() if line.startswith("E")]
    start = next((k for k, line in enumerate(lines)
                  if line.strip().startswith(("Falsifying example", "Failing test case"))), None)
    if start is None:
        return ""
    margin = len(lines[start]) - len(lines[start].lstrip())
    block = []
    for line in lines[start:]:
        block.append(line[margin:])
        if line.strip() == ")":
            break
    return "\n".join(block)


def memory_limit(workers: int | str) -> float:
    """The default memory limit of one worker in GiB: the machine's RAM shared by the workers,
    at least 2 GiB."""
    count = (os.cpu_count() or 1) if str(workers) == "auto" else max(1, int(workers))
    return round(max(2.0, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30 / count), 1)


def _exit_status(node: object) -> int | None:
    """The dead worker's exit status (negative: the signal), if execnet can say."""
    popen = getattr(getattr(getattr(node, "gateway", None), "_io", None), "popen", None)
    deadline = time.monotonic() + 2
    while popen is not None and popen.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return None if popen is None else popen.returncode


def _death(status: int | None, fault: str) -> str:
    """'SIGSEGV', 'exit code 3', or what the faulthandler said."""
    if status is not None and status < 0:
        return signal.Signals(-status).name
    if status:
        return f"exit code {status}"
    found = re.search(r"Fatal Python error: (.+)", fault)
    return found.group(1).strip() if found else "the worker process died"


def _frames(fault: str, count: int = 3) -> str:
    """The innermost ``count`` frames of a faulthandler report."""
    frames = [line.strip() for line in fault.splitlines() if line.strip().startswith("File ")]
    return "\n".join(frames[:count])


class _Collector:
    """A pytest plugin object that turns test reports into results (in the controller under xdist),
    knows every collected check, and turns a worker's death into a crash record."""

    def __init__(self, progress: Callable[[Result], None] | None, crash_dir: str = "") -> None:
        self.results: dict[str, Result] = {}
        self.progress = progress
        self.crash_dir = crash_dir
        self.collected: dict[str, tuple[str, str]] = {}
        """nodeid -> (property, implementation) of every collected check."""
        self.finished: set[str] = set()
        self.config: pytest.Config | None = None

    def pytest_configure(self, config: pytest.Config) -> None:
        self.config = config

    def _collect(self, nodeids: list[str]) -> None:
        for nodeid in nodeids:
            prop, bracket, impl = nodeid.rpartition("::")[2].partition("[")
            if bracket:
                self.collected[nodeid] = (prop, impl.removesuffix("]"))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._collect([item.nodeid for item in session.items])

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: object, ids: list[str]) -> None:
        self._collect(ids)

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport, sched: object) -> None:
        """A worker died while running ``crashitem``: record what killed it and where."""
        if crashitem not in self.collected:
            return
        prop, impl = self.collected[crashitem]
        worker = report.node
        call, fault = read_trace(self.crash_dir, worker.gateway.id) if self.crash_dir else ("", "")
        death = _death(_exit_status(worker), fault)
        test = f"properties.{Path(crashitem.partition('::')[0]).stem}::{crashitem.rpartition('::')[2]}"
        result = Result(
            impl, prop, "crashed", reason=f"crashed: {death} while running {prop}[{impl}]",
            counterexample="\n".join(filter(None, [
                f"last call into the implementation: {call or 'none recorded'}",
                "(the example that crashed: hypothesis cannot shrink across a dead process)",
                _frames(fault)])),
            reproduce=pytest_plugin.reproducer(self.config, test)
                      + "  (in one process: the crash ends pytest there, with a faulthandler traceback)")
        self.results[crashitem] = result
        self.finished.add(crashitem)
        if self.progress:
            self.progress(result)

    def account(self, code: int) -> None:
        """Every collected check without a final report becomes a crash record."""
        for nodeid, (prop, impl) in self.collected.items():
            if nodeid not in self.finished:
                self.results[nodeid] = Result(impl, prop, "crashed", reason=(
                    f"no result: the run stopped before {prop}[{impl}] finished (pytest exit code {code}; "
                    f"xdist replaces at most {MAX_RESTARTS} crashed workers)"))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "lstm_impl" not in props:
            return
        result = self.results.setdefault(report.nodeid, Result(props["lstm_impl"], props["lstm_property"], "passed"))
        result.seconds += report.duration
        result.examples = max(result.examples, int(props.get("lstm_examples", 0)))
        result.sizes = props.get("lstm_sizes", result.sizes)
        result.margin = max(result.margin, float(props.get("lstm_margin", 0.0)))
        result.compared = max(result.compared, int(props.get("lstm_compared", 0)))
        result.loose = max(result.loose, int(props.get("lstm_loose", 0)))
        result.compile_seconds = max(result.compile_seconds, float(props.get("lstm_compile_seconds", 0.0)))
        if hasattr(report, "wasxfail") and report.skipped:
            result.status, result.reason = "xfailed", report.wasxfail
        elif report.skipped:
            result.status, result.reason = "skipped", str(report.longrepr[2]).removeprefix("Skipped: ")
        elif report.failed:
            crash = getattr(report.longrepr, "reprcrash", None)
            result.status = "failed"
            result.reason = crash.message.splitlines()[0] if crash else report.longreprtext.splitlines()[-1]
            sections = {title.rpartition(" ")[2]: text for title, text in report.sections}
            shrinking = sections.get("shrinking")
            result.counterexample = "\n".join(filter(None, [_counterexample(report),
                                                             shrinking and f"shrinking {shrinking}"]))
            result.reproduce = sections.get("reproduce", "")
        if report.when == "teardown":
            self.finished.add(report.nodeid)
            if self.progress:
                self.progress(result)


def run_suite(options: dict[str, str], workers: int | str = 0, progress: Callable[[Result], None] | None = None,
              pytest_args: tuple[str, ...] = ()) -> tuple[int, list[Result], str]:
    """Run every property with the plugin ``options`` (``{"--lstm-impl": ..., ...}``).

    The laws run in xdist workers (at least one), unless an implementation object was handed
    over in-process (:func:`lstm_verify.api.check_impl`); ``--lstm-memory-limit`` defaults to
    :func:`memory_limit`. Returns pytest's exit code, one result per collected check sorted by
    property and implementation, and pytest's own output, its standard error last (shown by
    callers only when something went wrong: the last line names a TARGET that did not load)."""
    isolated = not pytest_plugin._INJECTED
    workers = workers if str(workers) not in ("0", "") or not isolated else 1
    if options.get("--lstm-memory-limit") is None:
        options = {**options, "--lstm-memory-limit": memory_limit(workers)}
    args = [str(Path(properties.__file__).parent), "-q", "--assert=plain", "-p", "no:cacheprovider",
            "-W", "ignore::DeprecationWarning", "-p", "lstm_verify.shard"]
    for option, value in options.items():
        if value not in (None, ""):
            args += [option, str(value)]
    if isolated:
        args += ["-n", str(workers), "--max-worker-restart", str(MAX_RESTARTS), "-p", "no:faulthandler"]
    else:  # hypothesis fixes a law's settings when its module is imported: import them afresh, in this run's profile
        for name in [m for m in sys.modules if m.startswith(f"{properties.__name__}.")]:
            del sys.modules[name]
    output, errors = io.StringIO(), io.StringIO()
    with tempfile.TemporaryDirectory(prefix="lstm-verify-") as crash_dir:
        collector = _Collector(progress, crash_dir if isolated else "")
        environ = {"LSTM_VERIFY_CRASH_DIR": crash_dir} if isolated else {}
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(errors), _environ(environ):
            code = pytest.main([*args, *pytest_args], plugins=[collector])
    collector.account(int(code))
    for result in collector.results.values():
        result.shard = options.get("--lstm-shard") or ""
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


def progress_line(result: Result, stream=sys.stderr) -> None:
    """Print one line per finished check and, for a failure or crash, its failure block at once
    (the final report repeats it), so the first broken law shows while the rest still run."""
    print(f"  {MARKS[result.status]:>5}  {result.property}[{result.implementation}]  {result.seconds:.1f}s",
          file=stream, flush=True)
    if result.status in FAILING:
        print(failures([result]) + "\n", file=stream, flush=True)


def _table(results: list[Result]) -> tuple[list[str], list[str], dict]:
    impls = list(dict.fromkeys(r.implementation for r in sorted(results, key=lambda r: r.implementation)))
    props = list(dict.fromkeys(r.property for r in results))
    return impls, props, {(r.property, r.implementation): r for r in results}


def _shown(results: list[Result]) -> tuple[str, ...]:
    """The statuses a report lists: ``crashed`` only when something crashed."""
    return tuple(s for s in STATUSES if s != "crashed" or any(r.status == s for r in results))


LOOSE = ("loose: for each implementation, the largest share of one check's compared values whose error "
         "bound was at least the largest |value| of their array, so a wrong value of that size would have "
         "passed there (every check's counts: the JSON report)")


def loose_share(results: list[Result]) -> str:
    """The largest share of one check's compared values with a loose bound, over ``results``:
    '-' (none compared), '0', or a percentage such as '27%'."""
    compared = [r for r in results if r.compared]
    share = max((r.loose / r.compared for r in compared), default=0.0)
    return "-" if not compared else "0" if not share else f"{100 * share:.2g}%"


def summary(results: list[Result]) -> str:
    """One line; its counts add up to the checks collected."""
    totals = {s: sum(r.status == s for r in results) for s in STATUSES}
    examples = sum(r.examples for r in results)
    impls, props, _ = _table(results)
    crashed = f"{totals['crashed']} crashed, " if totals["crashed"] else ""
    return (f"lstm-verify: {totals['passed']} passed, {totals['failed']} failed, {crashed}{totals['skipped']} skipped, "
            f"{totals['xfailed']} xfailed ({len(props)} properties x {len(impls)} implementations, "
            f"{examples} hypothesis examples)")


def matrix(results: list[Result]) -> str:
    """A plain-text table: properties x implementations, then totals and the reasons."""
    impls, props, cell = _table(results)
    width = max([len(p) for p in props] + [9])
    heads = [i.replace("-float", "/f") for i in impls]
    cols = [max(len(h), 5) for h in heads]

    def row(label: str, values: list[str]) -> str:
        return label.ljust(width) + "  " + "  ".join(v.rjust(c) for v, c in zip(values, cols))

    lines = [row("property", heads)]
    lines += [row(p, [MARKS[cell[p, i].status] if (p, i) in cell else "-" for i in impls]) for p in props]
    for status in _shown(results):
        lines.append(row(status, [str(sum(1 for p in props if (p, i) in cell and cell[p, i].status == status))
                                  for i in impls]))
    lines.append(row("examples", [str(sum(cell[p, i].examples for p in props if (p, i) in cell)) for i in impls]))
    lines.append(row("loose", [loose_share([cell[p, i] for p in props if (p, i) in cell]) for i in impls]))
    reasons: dict[str, list[str]] = {}
    for r in results:
        if r.status in ("skipped", "xfailed"):
            reasons.setdefault(f"{r.status}: {r.reason}", []).append(f"{r.property}[{r.implementation}]")
    for reason, where in reasons.items():
        lines.append(f"{reason}  ({len(where)}: {', '.join(where[:2])}{', ...' if len(where) > 2 else ''})")
    if any(r.loose for r in results):
        lines.append(LOOSE)
    return "\n".join(lines)


def failures(results: list[Result]) -> str:
    """Each failure or crash: the law broken, what came, the counterexample and how to reproduce it."""
    blocks = []
    for r in results:
        if r.status in FAILING:
            doc = (properties.collect()[r.property].__doc__ or "").strip().split("\n\n")[0]
            blocks.append("\n".join(filter(None, [
                f"{r.status.upper()} {r.property}[{r.implementation}]",
                "  law: " + " ".join(doc.split()),
                "  got: " + r.reason,
                "  " + r.counterexample.replace("\n", "\n  ") if r.counterexample else "",
                "  reproduce: " + r.reproduce if r.reproduce else ""])))
    return "\n\n".join(blocks)


def markdown(results: list[Result]) -> str:
    """The matrix as a Markdown table, with the summary line."""
    impls, props, cell = _table(results)
    lines = ["| property | " + " | ".join(impls) + " |", "| --- |" + " --- |" * len(impls)]
    lines += ["| " + p + " | " + " | ".join(MARKS[cell[p, i].status] if (p, i) in cell else "-" for i in impls) + " |"
              for p in props]
    crashes = [f"- `{r.property}[{r.implementation}]`: {r.reason}" for r in results if r.status == "crashed"]
    return "\n".join(lines + ["", summary(results), ""] + (["", "Crashes:", ""] + crashes + [""] if crashes else []))
