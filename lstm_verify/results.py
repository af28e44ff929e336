"""The records of a run: one :class:`Result` per law and implementation, the statuses they take,
and the :class:`Collector`, a pytest plugin object that turns pytest's reports into results (in
the controller under pytest-xdist) and a dead worker into a crash record."""

from __future__ import annotations

import re
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import pytest

from lstm_verify.config import Options, options_from_pytest, reproducer
from lstm_verify.guard import read_trace

STATUSES = ("passed", "failed", "crashed", "skipped", "xfailed", "xpassed")
MARKS = {"passed": "ok", "failed": "FAIL", "crashed": "crash", "skipped": "skip", "xfailed": "xfail",
         "xpassed": "XPASS"}
FAILING = ("failed", "crashed")
STORED = pytest.StashKey[dict]()
"""nodeid -> :class:`Result` of each check a session served from the store (:mod:`lstm_verify.store`)."""
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
    observed: str = ""
    """For an xfailed check: the failure that actually happened (the violation an expected failure
    matched, or the exception), shown beside the stated reason."""
    compile_seconds: float = 0.0
    """Of ``seconds``, those JAX spent tracing, lowering and compiling (0 without JAX; less with
    the cache folder's compilations kept)."""

    stored: str = ""
    """For a check not run because its inputs are unchanged since its verdict was measured: when and
    at which commit that was ('2026-12-06 22:10 UTC, 7887cdb'; :mod:`lstm_verify.store`); empty for
    a check that ran in this run."""

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


class Collector:
    """A pytest plugin object that turns test reports into results (in the controller under xdist),
    knows every collected check, and turns a worker's death into a crash record."""

    def __init__(self, progress: Callable[[Result], None] | None, crash_dir: str = "",
                 plan: Callable[[list[tuple[str, str]]], None] | None = None) -> None:
        self.results: dict[str, Result] = {}
        self.progress = progress
        self.plan = plan
        """Called once with the (property, implementation) of every check that will run: the first
        collection's, after every deselection (-k, shards, the store's verdicts)."""
        self.planned = False
        self.crash_dir = crash_dir
        self.collected: dict[str, tuple[str, str]] = {}
        """nodeid -> (property, implementation) of every collected check."""
        self.finished: set[str] = set()
        self.options: Options | None = None

    def pytest_configure(self, config: pytest.Config) -> None:
        self.options = options_from_pytest(config)

    def _collect(self, nodeids: list[str]) -> None:
        for nodeid in nodeids:
            prop, bracket, impl = nodeid.rpartition("::")[2].partition("[")
            if bracket:
                self.collected[nodeid] = (prop, impl.removesuffix("]"))
        if self.plan and not self.planned:  # every xdist worker collects the same checks
            self.planned = True
            self.plan(list(self.collected.values()))

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
            reproduce=reproducer(self.options, test)
                      + "  (in one process: the crash ends pytest there, with a faulthandler traceback)")
        self.results[crashitem] = result
        self.finished.add(crashitem)
        if self.progress:
            self.progress(result)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """The checks served from the store, with the rest (they ran in an earlier run)."""
        for nodeid, result in session.config.stash.get(STORED, {}).items():
            if nodeid not in self.finished:
                self.results[nodeid] = result
                self.finished.add(nodeid)

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
        outcome = props.get("lstm_outcome")
        if outcome in ("xfailed", "xpassed"):
            result.status, result.reason, result.observed = outcome, report.wasxfail, props.get("lstm_observed", "")
        elif hasattr(report, "wasxfail") and report.skipped:
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
            if "expected" in sections:
                result.counterexample = "\n".join(filter(None, [result.counterexample, sections["expected"]]))
        if report.when == "teardown":
            self.finished.add(report.nodeid)
            if self.progress:
                self.progress(result)


def table(results: list[Result]) -> tuple[list[str], list[str], dict[tuple[str, str], Result]]:
    """The implementations and properties of ``results``, and each result by (property, implementation)."""
    impls = list(dict.fromkeys(r.implementation for r in sorted(results, key=lambda r: r.implementation)))
    props = list(dict.fromkeys(r.property for r in results))
    return impls, props, {(r.property, r.implementation): r for r in results}


CHECKED = ("passed", "failed", "crashed", "xfailed", "xpassed")
"""The statuses of a check that ran the law (a skip checked nothing)."""
NOTHING_CHECKED = 3
"""The exit status of a run in which nothing was checked: every check skipped, or an adapter asked
for by name could not run at all."""


def exit_status(results: list[Result], strict_xfails: bool = False) -> int:
    """1 when a law failed or crashed (or, with ``strict_xfails``, an expected failure did not
    happen); else :data:`NOTHING_CHECKED` when no check ran its law; else 0."""
    if any(r.status in FAILING or (strict_xfails and r.status == "xpassed") for r in results):
        return 1
    return 0 if any(r.status in CHECKED for r in results) else NOTHING_CHECKED


def unchecked(results: list[Result], names: list[str]) -> dict[str, str]:
    """Of the implementations named ``names`` (adapter names), those none of whose checks ran,
    with the reason their first check gave: ``{"keras": "torch is not installed"}``."""
    out = {}
    for name in names:
        mine = [r for r in results if r.implementation.rsplit("-", 1)[0] == name]
        if not any(r.status in CHECKED for r in mine):
            out[name] = mine[0].reason if mine else "no check was collected"
    return out
