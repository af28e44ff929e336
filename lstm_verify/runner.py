"""The one runner: runs the property suite through pytest (in parallel with pytest-xdist)
and returns one :class:`Result` per implementation and property. The command line and
:func:`lstm_verify.api.check_impl` use it; the pytest plugin supplies everything else."""

from __future__ import annotations

import contextlib
import io
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import pytest

import properties

STATUSES = ("passed", "failed", "skipped", "xfailed")
MARKS = {"passed": "ok", "failed": "FAIL", "skipped": "skip", "xfailed": "xfail"}


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


class _Collector:
    """A pytest plugin object that turns test reports into results (in the controller under xdist)."""

    def __init__(self, progress: Callable[[Result], None] | None) -> None:
        self.results: dict[str, Result] = {}
        self.progress = progress

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "lstm_impl" not in props:
            return
        result = self.results.setdefault(report.nodeid, Result(props["lstm_impl"], props["lstm_property"], "passed"))
        result.seconds += report.duration
        result.examples = max(result.examples, int(props.get("lstm_examples", 0)))
        if hasattr(report, "wasxfail") and report.skipped:
            result.status, result.reason = "xfailed", report.wasxfail
        elif report.skipped:
            result.status, result.reason = "skipped", str(report.longrepr[2]).removeprefix("Skipped: ")
        elif report.failed:
            crash = getattr(report.longrepr, "reprcrash", None)
            result.status = "failed"
            result.reason = crash.message.splitlines()[0] if crash else report.longreprtext.splitlines()[-1]
            result.counterexample = _counterexample(report)
            result.reproduce = next((text for title, text in report.sections if title.endswith("reproduce")), "")
        if report.when == "teardown" and self.progress:
            self.progress(result)


def run_suite(options: dict[str, str], workers: int | str = 0, progress: Callable[[Result], None] | None = None,
              pytest_args: tuple[str, ...] = ()) -> tuple[int, list[Result], str]:
    """Run every property with the plugin ``options`` (``{"--lstm-impl": ..., ...}``).

    Returns pytest's exit code, the results sorted by property and implementation, and
    pytest's own output (shown by callers only when something went wrong)."""
    collector = _Collector(progress)
    args = [str(Path(properties.__file__).parent), "-q", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning"]
    for option, value in options.items():
        if value not in (None, ""):
            args += [option, str(value)]
    if str(workers) not in ("0", ""):
        args += ["-n", str(workers)]
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        code = pytest.main([*args, *pytest_args], plugins=[collector])
    results = sorted(collector.results.values(), key=lambda r: (r.property, r.implementation))
    return int(code), results, output.getvalue()


def progress_line(result: Result, stream=sys.stderr) -> None:
    """Print one line per finished check."""
    print(f"  {MARKS[result.status]:>5}  {result.property}[{result.implementation}]  {result.seconds:.1f}s",
          file=stream, flush=True)


def _table(results: list[Result]) -> tuple[list[str], list[str], dict]:
    impls = list(dict.fromkeys(r.implementation for r in sorted(results, key=lambda r: r.implementation)))
    props = list(dict.fromkeys(r.property for r in results))
    return impls, props, {(r.property, r.implementation): r for r in results}


def summary(results: list[Result]) -> str:
    totals = {s: sum(r.status == s for r in results) for s in STATUSES}
    examples = sum(r.examples for r in results)
    impls, props, _ = _table(results)
    return (f"lstm-verify: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped, "
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
    for status in STATUSES:
        lines.append(row(status, [str(sum(1 for p in props if (p, i) in cell and cell[p, i].status == status))
                                  for i in impls]))
    lines.append(row("examples", [str(sum(cell[p, i].examples for p in props if (p, i) in cell)) for i in impls]))
    reasons: dict[str, list[str]] = {}
    for r in results:
        if r.status in ("skipped", "xfailed"):
            reasons.setdefault(f"{r.status}: {r.reason}", []).append(f"{r.property}[{r.implementation}]")
    for reason, where in reasons.items():
        lines.append(f"{reason}  ({len(where)}: {', '.join(where[:2])}{', ...' if len(where) > 2 else ''})")
    return "\n".join(lines)


def failures(results: list[Result]) -> str:
    """Each failure: the law broken, what came, the counterexample and how to reproduce it."""
    blocks = []
    for r in results:
        if r.status == "failed":
            doc = (properties.collect()[r.property].__doc__ or "").strip().split("\n\n")[0]
            blocks.append("\n".join(filter(None, [
                f"FAILED {r.property}[{r.implementation}]",
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
    return "\n".join(lines + ["", summary(results), ""])
