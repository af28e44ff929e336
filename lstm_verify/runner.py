"""The one runner: runs the property suite through pytest (in parallel with pytest-xdist)
and returns one result per implementation and property. The command line and any
pytest-free caller use it; the pytest plugin supplies the parametrisation."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

import properties

STATUSES = ("passed", "failed", "skipped")


@dataclass
class Result:
    """What happened to one property on one implementation."""

    implementation: str
    property: str
    status: str
    reason: str = ""
    seconds: float = 0.0
    nodeid: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


class _Collector:
    """A pytest plugin object that turns test reports into :class:`Result` records."""

    def __init__(self) -> None:
        self.results: dict[str, Result] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "lstm_impl" not in props:
            return
        result = self.results.setdefault(report.nodeid, Result(props["lstm_impl"], props["lstm_property"],
                                                               "passed", nodeid=report.nodeid))
        result.seconds += report.duration
        if report.skipped:
            result.status, result.reason = "skipped", str(report.longrepr[2]).removeprefix("Skipped: ")
        elif report.failed:
            result.status = "failed"
            result.reason = _first_line(report)


def _first_line(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    return crash.message.splitlines()[0] if crash is not None else str(report.longrepr).splitlines()[-1]


def run_suite(adapters: str = "all", dtypes: str = "float32,float64", profile: str = "ci", workers: int | str = 0,
              pytest_args: tuple[str, ...] = ()) -> tuple[int, list[Result]]:
    """Run every property on the chosen implementations; returns pytest's exit code and the results."""
    collector = _Collector()
    args = [str(Path(properties.__file__).parent), "-q", "-p", "no:cacheprovider", "--lstm-adapters", adapters,
            "--lstm-dtypes", dtypes, "--lstm-profile", profile, "--rootdir", os.getcwd(), *pytest_args]
    if workers:
        args += ["-n", str(workers)]
    code = pytest.main(args, plugins=[collector])
    return int(code), sorted(collector.results.values(), key=lambda r: (r.property, r.implementation))


def matrix(results: list[Result]) -> str:
    """A plain-text table: properties x implementations, then totals and skip reasons."""
    impls = list(dict.fromkeys(r.implementation for r in sorted(results, key=lambda r: r.nodeid.split("[")[-1])))
    props = list(dict.fromkeys(r.property for r in results))
    cell = {(r.property, r.implementation): r for r in results}
    marks = {"passed": "ok", "failed": "FAIL", "skipped": "skip"}
    width = max([len(p) for p in props] + [8])
    heads = [i.replace("-float", "/f") for i in impls]
    cols = [max(len(h), 4) for h in heads]
    lines = ["property".ljust(width) + "  " + "  ".join(h.rjust(c) for h, c in zip(heads, cols))]
    for p in props:
        row = [marks[cell[p, i].status] if (p, i) in cell else "-" for i in impls]
        lines.append(p.ljust(width) + "  " + "  ".join(v.rjust(c) for v, c in zip(row, cols)))
    for status in STATUSES:
        counts = [sum(1 for p in props if (p, i) in cell and cell[p, i].status == status) for i in impls]
        lines.append(status.ljust(width) + "  " + "  ".join(str(n).rjust(c) for n, c in zip(counts, cols)))
    reasons: dict[str, list[str]] = {}
    for r in results:
        if r.status != "passed":
            reasons.setdefault(f"{r.status}: {r.reason}", []).append(f"{r.property}[{r.implementation}]")
    for reason, where in reasons.items():
        lines.append(f"{reason}  ({len(where)}: {', '.join(where[:3])}{', ...' if len(where) > 3 else ''})")
    totals = {s: sum(r.status == s for r in results) for s in STATUSES}
    lines.append(f"lstm-verify: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped "
                 f"({len(props)} properties x {len(impls)} implementations)")
    return "\n".join(lines)
