"""asv suites for any LSTM implementation: the timings of ``lstm-verify bench``, tracked across commits.

In your repository, ``benchmarks/bench_lstm.py``::

    from pathlib import Path

    import lstm_verify.asv

    class TimeMyCell(lstm_verify.asv.LSTMSuite):
        target = f"{Path(__file__).parents[1]}/my_cell.py:MyCell"   # or "mypkg.cell:MyCell"
        kind = "torch-cell"
        shapes = ("streaming", "small-hidden")

Import the module, not the class: asv would take an imported ``LSTMSuite`` for a suite of its own.

The suite measures every runnable combination once, in ``setup_cache`` (one process), with
:func:`lstm_verify.bench.run`, and ``track_us_per_step`` reads the results: median microseconds
per step. A row whose output disagrees with the float64 reference fails its benchmark instead of
recording a time. Parameters are ``implementation`` (``name/device/dtype``), ``shape`` and
``mode`` (step, forward, forward_backward); combinations that cannot run on the machine (a GPU
that is not there) are not generated at all, so asv starts no process for them. The module
imports neither torch nor JAX until the measurement.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from lstm_verify.bench import BASELINES, MODES, SHAPES, Shape

GPU_KINDS = ("torch-cell", "torch-lstm", "jax-step")
"""TARGET kinds the bench runs on a GPU."""
GPU_ADAPTERS = ("torch-cell", "torch-lstm", "paper-cell", "jax", "torch-cell-graph")
"""Built-in adapters (and the CUDA-graph baseline) the bench runs on a GPU."""
_SUITES: dict[str, str] = {}
"""module -> the name of its suite."""


def devices() -> list[str]:
    """The devices to benchmark, found without importing torch: ``LSTM_BENCH_DEVICES`` (e.g.
    ``cuda`` on a GPU machine whose CPU numbers are not wanted) or cpu, plus cuda where an
    NVIDIA driver is present."""
    chosen = os.environ.get("LSTM_BENCH_DEVICES")
    if chosen:
        return [d.strip() for d in chosen.split(",") if d.strip()]
    nvidia = Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi") is not None
    return ["cpu", "cuda"] if nvidia else ["cpu"]


class LSTMSuite(ABC):
    """Subclass it naming ``target`` and ``kind`` (as ``lstm-verify bench TARGET --kind K``), or
    ``target = None`` and ``adapters`` for built-in adapters. One suite per benchmark module (asv
    keys the shared measurement by module)."""

    kind = "torch-cell"
    layout: str | None = None
    adapters: tuple[str, ...] = ()
    shapes: tuple[str, ...] = ("streaming",)
    extra_shapes: dict[str, Shape] = {}
    modes: tuple[str, ...] = MODES
    dtypes: tuple[str, ...] = ("float32",)
    devices: tuple[str, ...] | None = None
    baselines = True
    repeats = 5
    min_time = 0.01
    param_names = ["implementation", "shape", "mode"]
    params: tuple[list[str], list[str], list[str]] = ([], [], [])
    timeout = 600
    rounds = 1

    @property
    @abstractmethod
    def target(self) -> str | None:
        """``package.module:attr`` or ``/abs/path/file.py:attr``; None for built-in adapters."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if _SUITES.setdefault(cls.__module__, cls.__qualname__) != cls.__qualname__:
            raise TypeError(f"{cls.__module__} defines two LSTM suites; asv would share one measurement between them")
        cls.params = (cls.cases(), [*cls.shapes, *cls.extra_shapes], list(cls.modes))

        def setup_cache(self: LSTMSuite) -> dict[str, Any]:
            return type(self).measure()

        setup_cache.__module__ = cls.__module__  # asv keys the cache by module and line
        setup_cache.timeout = cls.timeout
        cls.setup_cache = setup_cache

    @classmethod
    def names(cls) -> list[str]:
        """The implementations measured: the target's name (or the adapters), then the baselines."""
        own = [cls.target.rpartition(":")[2]] if isinstance(cls.target, str) else list(cls.adapters)
        return own + [b for b in BASELINES if cls.baselines and b not in own]

    @classmethod
    def cases(cls) -> list[str]:
        """``name/device/dtype`` for every combination this machine can run."""
        gpu = GPU_ADAPTERS + (() if not isinstance(cls.target, str) or cls.kind not in GPU_KINDS else
                              (cls.target.rpartition(":")[2],))
        out = []
        for device in cls.devices or devices():
            for name in cls.names():
                if (device == "cuda" and name not in gpu) or (device != "cuda" and name == "torch-cell-graph"):
                    continue
                out += [f"{name}/{device}/{dtype}" for dtype in cls.dtypes]
        return out

    @classmethod
    def measure(cls) -> dict[str, Any]:
        """Run the bench over the suite's grid: ``{"name/device/dtype shape mode": row dict}``."""
        from lstm_verify import bench
        from lstm_verify.adapters import builtin_adapter
        from lstm_verify.targets import target_adapter

        if isinstance(cls.target, str):
            subjects = [bench.Subject(cls.names()[0], target_adapter(cls.target, cls.kind, cls.layout))]
        else:
            subjects = [bench.Subject(n, builtin_adapter(n)) for n in cls.adapters]
        shapes = {**{n: SHAPES[n] for n in cls.shapes}, **cls.extra_shapes}
        wanted = set(cls.cases())
        rows = []
        for device in sorted({c.split("/")[1] for c in wanted}):
            rows += bench.run(subjects, shapes, [device], cls.dtypes, cls.modes, cls.repeats, cls.min_time,
                              cls.baselines)
        return {f"{r.implementation}/{r.device}/{r.dtype} {r.shape} {r.mode}": r.as_dict() for r in rows
                if f"{r.implementation}/{r.device}/{r.dtype}" in wanted}

    def setup(self, results: dict[str, Any], implementation: str, shape: str, mode: str) -> None:
        """asv skips a row that could not run (no gradients, say); a row that disagrees with the
        reference fails: its time is not a result."""
        row = results.get(f"{implementation} {shape} {mode}")
        if row is None or row["status"] == "skipped":
            raise NotImplementedError(row["reason"] if row else "not measured")
        if row["status"] != "ok":
            raise AssertionError(f"{implementation} {shape} {mode} disagrees with the reference: {row['agreement']}")
        self.row = row

    def track_us_per_step(self, results: dict[str, Any], implementation: str, shape: str, mode: str) -> float:
        """Median microseconds per step (a sequence's time / T)."""
        return self.row["us_per_step"]

    track_us_per_step.unit = "us per step"


def regressions(base: str, head: str, factor: float = 1.15, machine: str | None = None,
                config: str = "asv.conf.json") -> list[str]:
    """The benchmarks recorded for ``head`` that are slower than for ``base`` by more than
    ``factor`` (``asv compare``'s "got worse" rows), from results already recorded with ``asv run``.
    asv is the one installed beside this Python, so an unactivated virtualenv works too."""
    command = [sys.executable, "-m", "asv", "compare", "--config", config, "--factor", str(factor), "--split", base, head]
    out = subprocess.run(command + (["--machine", machine] if machine else []), capture_output=True, text=True,
                         check=True).stdout
    return [line for line in out.splitlines() if line.lstrip("| ").startswith("+")]


def main(argv: list[str] | None = None) -> int:
    """``python -m lstm_verify.asv BASE HEAD [--factor F]``: exit 1 when HEAD got slower than
    BASE by more than F on any benchmark recorded for both (``asv run --set-commit-hash`` each)."""
    parser = argparse.ArgumentParser(prog="python -m lstm_verify.asv", description=main.__doc__.splitlines()[0])
    parser.add_argument("base")
    parser.add_argument("head")
    parser.add_argument("--factor", type=float, default=1.15)
    parser.add_argument("--machine")
    parser.add_argument("--config", default="asv.conf.json")
    args = parser.parse_args(argv)
    worse = regressions(args.base, args.head, args.factor, args.machine, args.config)
    print("\n".join(worse) if worse else f"no benchmark got slower than {args.factor}x")
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
