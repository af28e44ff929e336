"""Measurements recorded by a program: ``python -m lstm_verify.measure [--only NAME,...] [--runs N]``
runs named figures on this machine and merges them into ``docs/measurements/record.json``;
``python -m lstm_verify.measure render [FILES]`` rewrites the generated blocks of Markdown files
from that record.

A figure is declared once, in :data:`FIGURES`: a command, what it measures and how one run of it
is read (its wall time, a ``lstm-verify bench`` row, or a table it prints). Every run's value is
kept, with the median and the spread, and every session says its machine, library versions, git
commit and date, so a figure is a record, never a sentence someone typed. A run replaces only
the figures it ran. The costly figures (the main job, the kit's tests: minutes to hours) run
only when named in ``--only``.

The blocks ``<!-- measurements:headline -->`` (a few figures, machine in one line) and
``<!-- measurements:all -->`` (every figure, its runs, sessions and versions) are generated; a
figure never run renders as "not measured yet". ``tests/test_measure.py`` fails when a block in
README.md or docs/ differs from what ``render`` makes of the record.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import re
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "docs" / "measurements" / "record.json"
RENDERED = (ROOT / "README.md", ROOT / "docs" / "measurements.md")
X64 = {"JAX_ENABLE_X64": "1"}
COUNTED = ("passed", "failed", "crashed", "skipped", "xfailed", "xpassed", "error", "errors")
PROGRAMS = {"lstm-verify": ["-m", "lstm_verify.cli"], "pytest": ["-m", "pytest"], "python": []}
"""How a command's first word runs: this interpreter, so the tree's own code is what is measured."""
SHOWN = {"{cache}": "EMPTY_DIR", "{warm}": "WARMED_DIR", "{out}": "FILE", "{root}": "$PWD"}
"""Placeholders in a figure's command and environment, and how the record shows them."""


@dataclass(frozen=True)
class Output:
    """One run of a figure's command."""

    stdout: str
    stderr: str
    code: int
    seconds: float
    cpu_seconds: float
    """User and system time of the command and every process it waited for: less sensitive than
    the wall time to other work on the machine."""
    out: Path
    """The file the command was given as ``{out}``."""


def wall_seconds(output: Output) -> float:
    """The command's wall time."""
    return output.seconds


def bench_us_per_step(output: Output) -> float:
    """The single row ``lstm-verify bench --json {out}`` wrote: microseconds per step."""
    (row,) = json.loads(output.out.read_text())
    if row["status"] != "ok":
        raise MeasureError(f"bench row {row['status']}: {row['reason'] or row['agreement']}")
    return float(row["us_per_step"])


def markdown_table(output: Output) -> dict[str, list]:
    """The Markdown table the command printed: its column heads and rows of cells."""
    lines = [line for line in output.stdout.splitlines() if line.startswith("|")]
    cells = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines]
    return {"columns": cells[0], "rows": cells[2:]}


def counts(stdout: str) -> dict[str, int]:
    """The counts of the last closing line (``lstm-verify: 100 passed, 0 failed, ...`` or pytest's)."""
    for line in reversed(stdout.splitlines()):
        found = {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", line.split("(")[0]) if word in COUNTED}
        if "passed" in found or "failed" in found:
            return found
    return {}


class MeasureError(Exception):
    """A run that is not the figure's measurement (a wrong exit status, a bench row that disagrees)."""


@dataclass(frozen=True)
class Figure:
    """One figure: a command run in the repository's root, and how one run of it is read."""

    name: str
    what: str
    """What it measures, in one line."""
    argv: tuple[str, ...]
    """The command as typed; ``{cache}`` (an empty folder per run), ``{warm}`` (a folder one untimed
    run filled first) and ``{out}`` (a file for the command to write) are filled in."""
    unit: str = "s"
    read: Callable[[Output], Any] = wall_seconds
    """One run's value; a table (:func:`markdown_table`) is run once."""
    exit: int = 0
    """The exit status the run must have (1 for a defective implementation's verdict)."""
    env: dict[str, str] = field(default_factory=lambda: dict(X64))
    costly: bool = False
    """Minutes to hours a run: measured only when named in ``--only``."""
    headline: str = ""
    """Its label in the headline block; empty: not shown there."""

    @property
    def command(self) -> str:
        words = [SHOWN.get(word, word) for word in self.argv]
        return " ".join([f"{k}={SHOWN.get(v, v)}" for k, v in self.env.items()] + [shlex.join(words)])

    @property
    def tabular(self) -> bool:
        return self.read is markdown_table


def _cache(warm: bool) -> tuple[str, str, str]:
    """A cold or warm figure's name suffix, cache placeholder and words."""
    return ("-warm", "{warm}", "the cache folder of one untimed run before") if warm else \
        ("", "{cache}", "an empty cache folder")


def _verdict(target: str, kind: str, defective: bool = False, warm: bool = False, headline: str = "") -> Figure:
    """``lstm-verify check`` of one catalogue entry (``tests/catalogue``) as a user runs it: four dtypes, -n 2."""
    suffix, cache, words = _cache(warm)
    what = "defective" if defective else "correct"
    return Figure(f"verdict-{kind}-{what}{suffix}", f"the verdict on a {what} {kind} ({target}), four dtypes, -n 2, "
                  + words, ("lstm-verify", "check", f"tests/catalogue/{target}", "--kind", kind, "-n", "2",
                            "--cache-dir", cache), exit=int(defective), headline=headline)


def _main_job(warm: bool) -> Figure:
    suffix, cache, words = _cache(warm)
    return Figure(f"main-job{suffix or '-cold'}", f"the main job: every built-in adapter through every property, "
                  f"-n 2, {words}", ("lstm-verify", "check", "-n", "2", "--cache-dir", cache), costly=True,
                  headline=f"main job, {'warm' if warm else 'cold'}")


def _bench(adapter: str, dtype: str) -> Figure:
    return Figure(f"bench-{adapter}-{dtype}", f"lstm-verify bench: {adapter} {dtype}, a sequence forward, the "
                  "streaming shape (B=1 I=64 H=128 T=100), median of 5 repeats", ("lstm-verify", "bench",
                  "--adapters", adapter, "--shapes", "streaming", "--modes", "forward", "--dtypes", dtype,
                  "--no-baselines", "--quiet", "--plot", "", "--json", "{out}"), "µs/step", bench_us_per_step)


def _asv(name: str, selection: str, bench: tuple[str, ...] = ()) -> Figure:
    """``asv run --quick`` of the kit's own suite (``asv_bench``) on this environment: each benchmark
    once, asv's process per benchmark and setup included (``asv machine --yes`` made first). asv
    drops ``PYTHONPATH`` from its benchmarks' environment; ``ASV_PYTHONPATH`` puts this tree first."""
    return Figure(name, f"asv run --quick of {selection}, on the current environment", ("python", "-m", "asv", "run",
                  "--config", "asv_bench/asv.conf.json", "--python=same", "--quick", *bench),
                  env={**X64, "ASV_PYTHONPATH": "{root}"}, costly=True)


FIGURES: dict[str, Figure] = {f.name: f for f in [
    _verdict("torch_cells.py:HandWrittenCell", "torch-cell", headline="a correct torch cell's verdict, cold"),
    _verdict("torch_cells.py:WrongBackwardCell", "torch-cell", defective=True),
    _verdict("jax_steps.py:step", "jax-step", headline="a correct JAX step's verdict, cold"),
    _verdict("jax_steps.py:step", "jax-step", warm=True),
    _verdict("jax_steps.py:wrong_backward_step", "jax-step", defective=True),
    _bench("torch-lstm", "float32"),
    _bench("numpy", "float64"),
    _main_job(warm=False),
    _main_job(warm=True),
    Figure("kit-tests", "the kit's own tests, -n 2, ci profile", ("pytest", "tests", "-n", "2", "--lstm-profile", "ci"),
           costly=True, headline="the kit's tests"),
    Figure("ci-cold", "`.ci/run` as on a clean machine (`.ci/cold`): a fresh clone, a fresh virtual environment, "
           "an empty cache folder; pip's download cache kept", ("bash", ".ci/cold", "{cache}"), env={}, costly=True),
    Figure("margins", "error / bound of every catalogue entry per precision (below 1: within the error model; "
           "a numeric defect far above)", ("python", "-m", "tests.catalogue.margins"), "error / bound",
           markdown_table, costly=True),
    Figure("calibration", "the error bound against an ensemble of correct implementations that differ only in "
           "rounding, per dtype, precision and size (each size's cases hold 4096 values at least): min bound / "
           "largest error (below 1: a false alarm; the goal is at most 10)", ("python", "-m",
           "tests.catalogue.calibration"), "bound / error", markdown_table, costly=True),
    Figure("activations", "each built-in column's largest sigmoid and tanh error through the cell, in u of its "
           "storage format (test_activations_accurate's probes; error_model.OWN_ULPS allowed)",
           ("python", "-m", "tests.catalogue.activations"), "u", markdown_table, costly=True),
    Figure("activation-sweep", "the libraries' own sigmoid and tanh (NumPy, torch, XLA, Eigen) and two identities "
           "hand-written kernels use, over 8 million arguments per dtype: the largest error per bin of |z| of error_model.OWN_ULPS, in u of the storage format",
           ("python", "-m", "tests.catalogue.activation_sweep"), "u", markdown_table, costly=True),
    Figure("jax-compiling", "each JAX column at float32 through every law, one process, an empty cache folder: "
           "the programs XLA compiled, those compiled again (0: each once), and the seconds JAX compiling of the "
           "checks' seconds", ("python", "-m", "tests.catalogue.compiling"), "programs, s", markdown_table,
           costly=True),
    _asv("asv-step-quick", "the per-commit selection (step time, peak memory)", ("--bench", r"^step\.")),
    _asv("asv-all-quick", "the whole suite (per-commit and nightly)"),
]}
"""Every figure, declared once; ``--only`` names them."""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_once(figure: Figure, warm: str, clock: Callable[[], float]) -> tuple[Output, Any]:
    """Run the command once: its output and the value read from it."""
    with tempfile.TemporaryDirectory(prefix="measure-") as scratch:
        fill = {"{cache}": f"{scratch}/cache", "{warm}": warm, "{out}": f"{scratch}/out", "{root}": str(ROOT)}
        argv = [fill.get(word, word) for word in figure.argv]
        argv = [sys.executable, *PROGRAMS[argv[0]], *argv[1:]] if argv[0] in PROGRAMS else argv
        start, cpu = clock(), _children_cpu()
        env = {k: fill.get(v, v) for k, v in figure.env.items()}
        done = subprocess.run(argv, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True)
        output = Output(done.stdout, done.stderr, done.returncode, clock() - start, _children_cpu() - cpu,
                        Path(fill["{out}"]))
        if done.returncode != figure.exit:
            tail = "\n".join(output.stdout.splitlines()[-15:] + output.stderr.splitlines()[-5:])
            raise MeasureError(f"{figure.name}: exit {done.returncode}, not {figure.exit}\n{tail}")
        return output, figure.read(output)


def measure(figure: Figure, runs: int = 3, clock: Callable[[], float] = time.perf_counter) -> dict[str, Any]:
    """Run ``figure`` ``runs`` times (a table once): its record entry, without the session."""
    entry: dict[str, Any] = {"name": figure.name, "what": figure.what, "command": figure.command, "unit": figure.unit}
    with tempfile.TemporaryDirectory(prefix="measure-warm-") as warm:
        if "{warm}" in figure.argv:
            entry["warm_up"] = round(_run_once(figure, warm, clock)[0].seconds, 3)
        done = [_run_once(figure, warm, clock) for _ in range(1 if figure.tabular else runs)]
    if figure.tabular:
        return {**entry, "table": done[0][1]}
    values = [round(value, 3) for _, value in done]
    entry.update(runs=values, median=round(statistics.median(values), 3), min=min(values), max=max(values),
                 cpu_seconds=[round(output.cpu_seconds, 3) for output, _ in done],
                 exit=[output.code for output, _ in done])
    closing = [counts(output.stdout) for output, _ in done]
    if any(closing):
        entry["counts"] = closing
    return entry


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def _cpu_model() -> str:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    return found.group(1).strip() if found else platform.machine()


def versions() -> dict[str, str | None]:
    """Python's version and that of every distribution lstm-verify can use (None: not installed)."""
    try:
        names = [re.match(r"[\w.-]+", r).group(0) for r in importlib.metadata.requires("lstm-verify") or []]
    except importlib.metadata.PackageNotFoundError:
        names = []
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in dict.fromkeys(["lstm-verify", *names, "jaxlib"]):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def session(note: str = "") -> dict[str, Any]:
    """Where and when the figures of one run were measured."""
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "commit": _git("rev-parse", "HEAD"), "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
            "machine": {"cpu": _cpu_model(), "cores": os.cpu_count(), "ram_gib": round(ram / 2 ** 30, 1),
                        "os": platform.platform(), "load_average": [round(x, 2) for x in os.getloadavg()]},
            "versions": versions(), "note": note}


def load(path: Path = RECORD) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {"sessions": {}, "figures": {}}


def merge(record: dict[str, Any], when: dict[str, Any], entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """``record`` with ``entries`` measured in session ``when`` replacing those figures; sessions no
    figure comes from any longer are dropped. Figures in the registry's order, then the rest."""
    figures = dict(record["figures"])
    figures.update({e["name"]: {**e, "session": when["date"]} for e in entries})
    order = [n for n in FIGURES if n in figures] + sorted(set(figures) - set(FIGURES))
    sessions = {**record["sessions"], when["date"]: when}
    used = {figures[n]["session"] for n in order}
    return {"sessions": {k: v for k, v in sorted(sessions.items()) if k in used},
            "figures": {n: figures[n] for n in order}}


def save(record: dict[str, Any], path: Path = RECORD) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")


# Rendering

BLOCK = re.compile(r"(<!-- measurements:(headline|all) -->)\n.*?(<!-- /measurements:\2 -->)", re.S)


def _number(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}" if abs(value) >= 10 else f"{value:.3g}"


def _spread(entry: dict[str, Any]) -> str:
    return f"{_number(entry['min'])}–{_number(entry['max'])} {entry['unit']}"


def _machine(when: dict[str, Any]) -> str:
    m = when["machine"]
    return f"{m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, {m['os']}"


def _commit(when: dict[str, Any]) -> str:
    return f"`{when['commit'][:7]}`{' (uncommitted changes)' if when['dirty'] else ''}"


def _counts(entry: dict[str, Any]) -> str:
    per_run = [", ".join(f"{n} {w}" for w, n in c.items()) for c in entry.get("counts", [])]
    return " / ".join(dict.fromkeys(per_run)) or "-"


def _runs(entry: dict[str, Any]) -> str:
    warm_up = f" (after an untimed {_number(entry['warm_up'])} s)" if "warm_up" in entry else ""
    return ", ".join(map(_number, entry["runs"])) + warm_up


def _cpu(entry: dict[str, Any]) -> str:
    return ", ".join(map(_number, entry["cpu_seconds"])) + " s" if "cpu_seconds" in entry else "-"


def _table(heads: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(heads) + " |", "|" + " --- |" * len(heads)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def headline(record: dict[str, Any]) -> str:
    """The headline figures (median, spread, runs, commit) and the machines they were measured on."""
    rows, machines = [], []
    for figure in (f for f in FIGURES.values() if f.headline):
        entry = record["figures"].get(figure.name)
        if entry is None:
            rows.append([figure.headline, "not measured yet", "", "", "", ""])
            continue
        when = record["sessions"][entry["session"]]
        machines.append(_machine(when))
        cpu = f"{_number(statistics.median(entry['cpu_seconds']))} s" if "cpu_seconds" in entry else "-"
        rows.append([figure.headline, f"**{_number(entry['median'])} {entry['unit']}**", _spread(entry), cpu,
                     str(len(entry["runs"])), f"{_commit(when)}, {when['date'][:10]}"])
    machine = "; ".join(dict.fromkeys(machines)) or "none yet"
    return (_table(["figure", "median", "spread (min–max)", "CPU time, median", "runs", "commit, date"], rows)
            + f"\n\nMachine: {machine}. Every run, its versions and the rest: docs/measurements.md.")


def all_figures(record: dict[str, Any]) -> str:
    """Every figure: per session its machine, versions and commit, then each figure's runs."""
    parts = []
    for key, when in record["sessions"].items():
        entries = [e for e in record["figures"].values() if e["session"] == key]
        m = when["machine"]
        found = ", ".join(f"{k} {v}" for k, v in when["versions"].items() if v)
        parts.append(f"**Session {key}**: commit {_commit(when)}; {_machine(when)}; load average "
                     f"{' / '.join(map(str, m['load_average']))} (1 / 5 / 15 min) at the start."
                     + (f" Note: {when['note']}" if when["note"] else "") + f"\n\nVersions: {found}.")
        timed = [[f"`{e['name']}`", e["what"], f"`{e['command']}`", f"**{_number(e['median'])} {e['unit']}**",
                  _spread(e), _runs(e), _cpu(e), _counts(e)] for e in entries if "runs" in e]
        if timed:
            parts.append(_table(["figure", "what", "command", "median", "spread", "runs", "CPU time of each run",
                                 "counts"], timed))
        for e in (e for e in entries if "table" in e):
            parts.append(f"`{e['name']}`: {e['what']} (`{e['command']}`, {e['unit']}):\n\n"
                         + _table(e["table"]["columns"], e["table"]["rows"]))
    missing = [[f"`{f.name}`", f.what, f"`{f.command}`"] for f in FIGURES.values() if f.name not in record["figures"]]
    if missing:
        parts.append("Not measured yet:\n\n" + _table(["figure", "what", "command"], missing))
    return "\n\n".join(parts)


def render(text: str, record: dict[str, Any]) -> str:
    """``text`` with every generated block rewritten from ``record``."""
    bodies = {"headline": headline(record), "all": all_figures(record)}
    return BLOCK.sub(lambda m: f"{m.group(1)}\n{bodies[m.group(2)]}\n{m.group(3)}", text)


def render_files(record: dict[str, Any], files: Iterable[Path]) -> None:
    """Rewrite the generated blocks of ``files`` from ``record``."""
    for path in files:
        path.write_text(render(path.read_text(), record))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lstm_verify.measure", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", metavar="NAME[,NAME]", help="these figures (default: every one not costly): "
                                                              + ", ".join(FIGURES))
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (default 3; a table runs once)")
    parser.add_argument("--note", default="", help="a remark kept with the session (e.g. the machine was loaded)")
    parser.add_argument("--record", type=Path, default=RECORD, help="default docs/measurements/record.json")
    sub = parser.add_subparsers(dest="command")
    rendering = sub.add_parser("render", help="rewrite the generated blocks of FILES from the record")
    rendering.add_argument("files", nargs="*", type=Path, default=list(RENDERED),
                           help="default README.md docs/measurements.md")
    args = parser.parse_args(argv)
    if args.command == "render":
        render_files(load(args.record), args.files)
        return 0
    names = args.only.split(",") if args.only else [n for n, f in FIGURES.items() if not f.costly]
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        parser.error(f"unknown figure {unknown[0]!r}; choose from {', '.join(FIGURES)}")
    when, failed = session(args.note), 0
    for name in names:
        print(f"{name}: {FIGURES[name].command}", flush=True)
        try:
            entry = measure(FIGURES[name], args.runs)
        except MeasureError as exc:
            print(f"  not recorded: {exc}", file=sys.stderr, flush=True)
            failed += 1
            continue
        record = merge(load(args.record), when, [entry])
        save(record, args.record)
        if args.record == RECORD:  # the docs show the record: a later figure's run (the kit's tests) checks them
            render_files(record, RENDERED)
        print(f"  {_number(entry['median'])} {entry['unit']} ({_spread(entry)})" if "runs" in entry
              else "  table recorded", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
