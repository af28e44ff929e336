"""How much of a cold JAX column is compiling, and whether any program is compiled twice: each JAX
column at float32 through every law in one process (``-n 0``) with an empty cache folder, JAX's
compile requests counted. With the persistent cache empty and every compilation written to it (the
kit sets no minimum compile time), a request it misses is a program not compiled before in the run,
and a hit is a program compiled again under another jit cache entry (served from disk, not
compiled). The seconds are the run's report's, JAX's compiling as every check records it (tracing,
lowering and XLA's compile: ``lstm_verify.pytest_plugin.COMPILE_EVENTS``).
``python -m tests.catalogue.compiling [--adapters a,b]`` prints the table docs/ci.md quotes.

Loaded into the run as a pytest plugin (``-p tests.catalogue.compiling``), each process of the run (the
session's, its xdist worker's) writes its counts into the folder named by ``LSTM_VERIFY_COMPILING``."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JAX_COLUMNS = ("jax", "flax-lstm", "flax-optimized", "flax-nnx", "equinox", "haiku", "keras-jax")
EVENTS = {"/jax/compilation_cache/cache_misses": "programs", "/jax/compilation_cache/cache_hits": "repeats"}
_counts: Counter = Counter()


def pytest_configure(config: pytest.Config) -> None:
    import jax.monitoring

    def counted(event: str, **_: object) -> None:
        if event in EVENTS:
            _counts[EVENTS[event]] += 1
    jax.monitoring.register_event_listener(counted)


def pytest_unconfigure(config: pytest.Config) -> None:
    Path(os.environ["LSTM_VERIFY_COMPILING"], f"{os.getpid()}.json").write_text(json.dumps(_counts))


def census(column: str) -> dict[str, float]:
    """One cold run of ``column`` at float32: programs, repeats, and the checks' seconds and those
    of them compiling."""
    with tempfile.TemporaryDirectory(prefix="compiling-") as scratch:
        out = Path(scratch, "counts")
        out.mkdir()
        env = {**os.environ, "JAX_ENABLE_X64": "1", "LSTM_VERIFY_COMPILING": str(out),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               "PYTEST_ADDOPTS": "-p tests.catalogue.compiling"}
        done = subprocess.run([sys.executable, "-m", "lstm_verify.cli", "check", "--adapters", column, "--dtypes",
                               "float32", "-n", "0", "--cache-dir", f"{scratch}/cache", "--json", f"{scratch}/r.json"],
                              cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{column}: exit {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        report = json.loads(Path(scratch, "r.json").read_text())
        counts = sum((Counter(json.loads(f.read_text())) for f in out.iterdir()), Counter())
        return {**counts, "checks": sum(r["seconds"] for r in report),
                "compiling": sum(r["compile_seconds"] for r in report)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--adapters", default=",".join(JAX_COLUMNS))
    args = parser.parse_args()
    print("| column (float32) | programs | compiled again | compiling | checks | compiling share |")
    print("| --- | --- | --- | --- | --- | --- |")
    for column in args.adapters.split(","):
        c = census(column)
        print(f"| {column} | {c.get('programs', 0):.0f} | {c.get('repeats', 0):.0f} | {c['compiling']:.1f} s "
              f"| {c['checks']:.1f} s | {c['compiling'] / c['checks']:.0%} |",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
