"""The text renderings of a run's results: the progress lines, the matrix, the failure blocks,
the closing line and the Markdown table (the HTML page is :mod:`lstm_verify.report.html`)."""

from __future__ import annotations

import sys

import properties
from lstm_verify.estimate import Estimate, duration
from lstm_verify.results import FAILING, MARKS, STATUSES, Result, table


def progress_line(result: Result, stream=sys.stderr, note: str = "") -> None:
    """Print one line per finished check (``note`` after it) and, for a failure or crash, its
    failure block at once (the final report repeats it), so the first broken law shows while the
    rest still run."""
    print(f"  {MARKS[result.status]:>5}  {result.property}[{result.implementation}]  {result.seconds:.1f}s"
          + (f"  {note}" if note else ""), file=stream, flush=True)
    if result.status in FAILING:
        print(failures([result]) + "\n", file=stream, flush=True)


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


class Progress:
    """The progress of ``lstm-verify check``: before the first check, how many will run and how
    long they should take; after each, its line with how many are done and an estimate of what
    remains (:mod:`lstm_verify.estimate`)."""

    def __init__(self, costs: dict[str, dict[str, float]], workers: int, stream=sys.stderr) -> None:
        self.costs, self.workers, self.stream = costs, workers, stream
        self.estimate = Estimate([], costs, workers)

    def plan(self, checks: list[tuple[str, str]]) -> None:
        """The checks a session will run: the first session's are the run's estimate; a later
        session's (adapters that need another environment) are added to it."""
        if not self.estimate.expected:
            self.estimate = Estimate(checks, self.costs, self.workers)
            print(f"lstm-verify: {_count(len(checks), 'check')} to run on {_count(self.workers, 'worker')}, "
                  f"about {duration(self.estimate.total())} (an estimate from the cost table lstm_verify/costs.json; "
                  "stored verdicts are not run and not counted)", file=self.stream, flush=True)
        elif checks:
            more = self.estimate.add(checks)
            print(f"lstm-verify: {_count(len(checks), 'more check')} to run in a session of their own (adapters that "
                  f"need another environment), about {duration(more)}", file=self.stream, flush=True)

    def __call__(self, result: Result) -> None:
        self.estimate.finish((result.property, result.implementation), result.seconds, result.status != "skipped")
        done, planned = len(self.estimate.finished), len(self.estimate.expected)
        left = f", about {duration(self.estimate.remaining())} left" if done < planned else ""
        note = f"[{done}/{planned}{left}]" if planned else ""
        progress_line(result, self.stream, note)


STORED_MARK = "*"
"""Suffixed to the mark of a check served from the store (:mod:`lstm_verify.store`)."""


def mark(result: Result) -> str:
    """The matrix's mark of ``result``: 'ok', 'FAIL' ..., with :data:`STORED_MARK` when it was stored."""
    return MARKS[result.status] + (STORED_MARK if result.stored else "")


def stored_note(results: list[Result]) -> str:
    """What the stored mark means, with when the oldest stored verdict was measured ('' when none)."""
    stamps = sorted(r.stored for r in results if r.stored)
    return (f"{STORED_MARK}: stored verdict, not run again: its inputs are unchanged since it was measured "
            f"(oldest {stamps[0]}; --fresh runs it)" if stamps else "")


def _shown(results: list[Result]) -> tuple[str, ...]:
    """The statuses a report lists: ``crashed`` only when something crashed."""
    return tuple(s for s in STATUSES if s not in ("crashed", "xpassed") or any(r.status == s for r in results))


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
    impls, props, _ = table(results)
    crashed = f"{totals['crashed']} crashed, " if totals["crashed"] else ""
    xpassed = f", {totals['xpassed']} xpassed" if totals["xpassed"] else ""
    stored = sum(1 for r in results if r.stored)
    return (f"lstm-verify: {totals['passed']} passed, {totals['failed']} failed, {crashed}{totals['skipped']} skipped, "
            f"{totals['xfailed']} xfailed{xpassed} ({len(props)} properties x {len(impls)} implementations, "
            f"{examples} hypothesis examples)" + (f"; {stored} of them stored" if stored else ""))


def matrix(results: list[Result]) -> str:
    """A plain-text table: properties x implementations, then totals and the reasons."""
    impls, props, cell = table(results)
    width = max([len(p) for p in props] + [9])
    cols = [max(len(i), 5) for i in impls]

    def row(label: str, values: list[str]) -> str:
        return label.ljust(width) + "  " + "  ".join(v.rjust(c) for v, c in zip(values, cols))

    lines = [row("property", impls)]
    lines += [row(p, [mark(cell[p, i]) if (p, i) in cell else "-" for i in impls]) for p in props]
    for status in _shown(results):
        lines.append(row(status, [str(sum(1 for p in props if (p, i) in cell and cell[p, i].status == status))
                                  for i in impls]))
    lines.append(row("examples", [str(sum(cell[p, i].examples for p in props if (p, i) in cell)) for i in impls]))
    lines.append(row("loose", [loose_share([cell[p, i] for p in props if (p, i) in cell]) for i in impls]))
    reasons: dict[str, list[str]] = {}
    for r in results:
        if r.status in ("skipped", "xfailed", "xpassed"):
            reasons.setdefault(f"{r.status}: {r.reason}", []).append(f"{r.property}[{r.implementation}]")
    for reason, where in reasons.items():
        lines.append(f"{reason}  ({len(where)}: {', '.join(where[:2])}{', ...' if len(where) > 2 else ''})")
    if any(r.loose for r in results):
        lines.append(LOOSE)
    return "\n".join(filter(None, [*lines, stored_note(results)]))


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


def expected_failures(results: list[Result]) -> str:
    """Each xfailed check: the stated reason and the failure that actually happened; each xpassed
    check: the expected failure that did not happen."""
    lines = []
    for r in results:
        if r.status == "xfailed":
            lines.append(f"XFAIL {r.property}[{r.implementation}]\n  expected: {r.reason}"
                         + (f"\n  happened: {r.observed}" if r.observed else ""))
        elif r.status == "xpassed":
            lines.append(f"XPASS {r.property}[{r.implementation}]: the expected failure did not happen\n"
                         f"  expected: {r.reason}")
    return "\n".join(lines)


def markdown(results: list[Result]) -> str:
    """The matrix as a Markdown table, with the summary line."""
    impls, props, cell = table(results)
    lines = ["| property | " + " | ".join(impls) + " |", "| --- |" + " --- |" * len(impls)]
    lines += ["| " + p + " | " + " | ".join(mark(cell[p, i]) if (p, i) in cell else "-" for i in impls) + " |"
              for p in props]
    crashes = [f"- `{r.property}[{r.implementation}]`: {r.reason}" for r in results if r.status == "crashed"]
    closing = ["", summary(results), *filter(None, [stored_note(results)]), ""]
    return "\n".join(lines + closing + (["", "Crashes:", ""] + crashes + [""] if crashes else []))
