"""Regression gate for CI: fail when a benchmark got slower by more than FACTOR.

    python asv_bench/gate.py BASE HEAD [--factor 1.15] [--bench REGEX]

Runs ``asv continuous`` (each commit built and installed in its own virtualenv, the
benchmarks run interleaved) and exits 1 when any selected benchmark of HEAD is slower
than BASE by more than FACTOR, 0 otherwise. The default selection is the quick CPU
timings; the README says which factor the noise on a 2-core machine allows."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                 "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}
"""The gate times single-threaded: on 2 shared cores, two-thread BLAS and torch pools made
reruns of identical code differ by up to 1.9x (measured)."""
DEFAULT_BENCH = r"step\.gate\.GateLSTM|nightly\.kit\.TimeVerdict"
"""CPU forwards of numpy, torch-lstm and jax at two shapes, and the kit's verdict time per law."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base")
    parser.add_argument("head")
    parser.add_argument("--factor", type=float, default=1.15)
    parser.add_argument("--bench", default=DEFAULT_BENCH)
    parser.add_argument("--machine", default=f"{platform.node()}-gate")
    args = parser.parse_args(argv)
    subprocess.run(["asv", "machine", "--yes", "--machine", args.machine], cwd=HERE, check=True,
                   capture_output=True)
    run = subprocess.run(["asv", "continuous", "--factor", str(args.factor), "--split", "--show-stderr",
                          "--machine", args.machine, "-b", args.bench, args.base, args.head], cwd=HERE,
                         env={**os.environ, **SINGLE_THREAD})
    return 1 if run.returncode else 0


if __name__ == "__main__":
    sys.exit(main())
