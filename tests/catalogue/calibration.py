"""How tight the error bound is: correct LSTMs that differ only in rounding, against the bound.

``python -m tests.catalogue.calibration [--dtypes float32,...] [--no-adapters]`` prints the
calibration table: per dtype, declared precision and size (B, I, H, T), measured on the size's cases
at seeds 0, 1, ... until they hold :data:`SAMPLE` values (h_t and c_T), the largest ``|got - want|`` any
member of the ensemble showed, the bound there, and the tightness, ``min bound / error`` over the
values (below 1: a false alarm on a correct implementation) and its median. ``want`` is the oracle's
(:func:`lstm_verify.reference.oracle_dtype`: extended precision at all but the two largest sizes).

The ensemble, per storage dtype (sums accumulated in float32, float64 for float64; operands
rounded to TF32 first under the ``tf32`` precision): one LSTM step written out, whose
pre-activation ``[x, h, 1, 1] [W_ih; W_hh; b_ih; b_hh]^T`` is reduced by each of

* ``blas``: NumPy's matmul (OpenBLAS: blocked, FMA);
* ``sequential`` and ``sequential-fma``: a loop over the summation index, each product rounded
  or fused into the addition;
* ``pairwise``: pairwise summation over the index;
* ``tiled``: tiles of 16 terms by BLAS, the tiles added in order;
* ``permuted-N``: BLAS over the index permuted (columns of ``[x, h, 1, 1]`` and rows of the
  weights together: the same sum in another order);

with the elementwise part in the storage format (``storage``) or, for the half formats, in float32
rounded at the end (``wide``), one member whose sigmoid is ``(1 + tanh(z / 2)) / 2`` (XLA's) and one
whose tanh is ``2 sigmoid(2z) - 1`` (a hand-written kernel's);
plus every built-in column that declares the column's precision at its dtype and has no known
difference in the sequence's agreement (:func:`columns`; the Keras ones each run in a process with
its ``KERAS_BACKEND``). A sequence is the step looped, the state stored between steps.

Every member's errors are kept per case in the kit's cache folder
(``.lstm_verify/calibration``): they do not depend on the error model, so a changed model is
measured again in seconds.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Callable

import numpy as np

from lstm_verify import error_model, reference
from lstm_verify.adapters import BUILTIN
from lstm_verify.dtypes import numpy_dtype
from lstm_verify.params import Case, Params
from lstm_verify.strategies import SHAPES
from tests.catalogue.activation_sweep import numpy_sigmoid, sigmoid_by_tanh, tanh_by_sigmoid
from tests.catalogue.margins import SHAPES_CHECKED

Reduce = Callable[[np.ndarray, np.ndarray, np.dtype], np.ndarray]

LARGEST = (32, 1024, 1024)
"""The ladder's largest size (:data:`lstm_verify.strategies.KERNEL_SHAPES`), measured besides
:data:`tests.catalogue.margins.SHAPES_CHECKED`."""
CASES = tuple((shape, steps) for shape in SHAPES_CHECKED + (LARGEST,)
              for steps in ((1, 8) if shape in SHAPES else (1,)))
"""((B, I, H), T): one step and 8 steps at the small shapes, one step at the larger ones."""

SAMPLE = 4096
"""The fewest values (h_t and c_T) a size is measured on: its cases at seeds 0, 1, ... until they hold
this many. One case at (8, 129, 129) and above; 683 of the six values of (1, 1, 3) over one step. A
run of the suite compares far more values at every size, and the bound must hold for each: the
largest of six errors is one or two of their standard deviations, the largest of thousands the
tail the bound is for, so a single small case would measure the sample's size, not the bound."""


def seeds(shape: tuple[int, int, int], steps: int) -> int:
    """How many seeds the size ``shape`` over ``steps`` steps is measured on (:data:`SAMPLE`)."""
    batch, _, hidden = shape
    return -(-SAMPLE // (batch * hidden * (steps + 1)))
COLUMNS = (("float64", "ieee"), ("float32", "ieee"), ("float32", "tf32"), ("float16", "ieee"), ("bfloat16", "ieee"))


def _blas(a: np.ndarray, w: np.ndarray, acc: np.dtype) -> np.ndarray:
    return a.astype(acc) @ w.astype(acc)


def _sequential(a: np.ndarray, w: np.ndarray, acc: np.dtype) -> np.ndarray:
    a, w = a.astype(acc), w.astype(acc)
    s = np.zeros((a.shape[0], w.shape[1]), acc)
    for k in range(a.shape[1]):
        s += np.outer(a[:, k], w[k])
    return s


def _sequential_fma(a: np.ndarray, w: np.ndarray, acc: np.dtype) -> np.ndarray:
    """Each ``s + a_k w_k`` rounded once: the product of two float32 numbers is exact in float64."""
    a, w = a.astype(np.float64), w.astype(np.float64)
    s = np.zeros((a.shape[0], w.shape[1]), acc)
    for k in range(a.shape[1]):
        s = (s + np.outer(a[:, k], w[k])).astype(acc)
    return s


def _pairwise(a: np.ndarray, w: np.ndarray, acc: np.dtype) -> np.ndarray:
    a, w = a.astype(acc), w.astype(acc)
    columns = max(1, 2**22 // (a.shape[0] * a.shape[1]))
    out = []
    for j in range(0, w.shape[1], columns):
        t = a[:, :, None] * w[None, :, j:j + columns]
        while t.shape[1] > 1:
            if t.shape[1] % 2:
                t = np.concatenate([t, np.zeros_like(t[:, :1])], axis=1)
            t = t[:, 0::2] + t[:, 1::2]
        out.append(t[:, 0])
    return np.concatenate(out, axis=1)


def _tiled(a: np.ndarray, w: np.ndarray, acc: np.dtype, tile: int = 16) -> np.ndarray:
    a, w = a.astype(acc), w.astype(acc)
    s = np.zeros((a.shape[0], w.shape[1]), acc)
    for k in range(0, a.shape[1], tile):
        s += a[:, k:k + tile] @ w[k:k + tile]
    return s


def _permuted(seed: int) -> Reduce:
    def reduce(a: np.ndarray, w: np.ndarray, acc: np.dtype) -> np.ndarray:
        order = np.random.default_rng(seed).permutation(a.shape[1])
        return _blas(a[:, order], w[order], acc)
    return reduce


REDUCTIONS: dict[str, Reduce] = {"blas": _blas, "sequential": _sequential, "sequential-fma": _sequential_fma,
                                 "pairwise": _pairwise, "tiled": _tiled, "permuted-1": _permuted(1),
                                 "permuted-2": _permuted(2)}


def _tf32(v: np.ndarray) -> np.ndarray:
    """float32 ``v`` rounded to nearest (ties to even) at TF32's 10 mantissa bits."""
    bits = np.asarray(v, np.float32).view(np.uint32)
    bits = (bits + np.uint32(0xFFF) + ((bits >> np.uint32(13)) & np.uint32(1))) & np.uint32(0xFFFFE000)
    return bits.view(np.float32)


@dataclass(frozen=True)
class Member:
    """One correct LSTM step of the ensemble: how it reduces, where it computes the rest."""

    reduce: str
    wide: bool = False
    """Elementwise in the accumulation format, rounded to storage at the end (else in storage)."""
    tanh_sigmoid: bool = False
    """sigmoid(z) as (1 + tanh(z / 2)) / 2."""
    sigmoid_tanh: bool = False
    """tanh(z) as 2 sigmoid(2z) - 1."""

    @property
    def name(self) -> str:
        return (self.reduce + ("-wide" if self.wide else "") + ("-tanh-sigmoid" if self.tanh_sigmoid else "")
                + ("-sigmoid-tanh" if self.sigmoid_tanh else ""))

    def run(self, params: Params, xs: np.ndarray, h: np.ndarray, c: np.ndarray, dtype: str, precision: str
            ) -> tuple[np.ndarray, np.ndarray]:
        """hs (T, B, H) and c_T, in float64."""
        store = numpy_dtype(dtype)
        acc = np.dtype(np.float64 if dtype == "float64" else np.float32)
        inner = acc if self.wide else store
        w = np.concatenate([params.w_ih.T, params.w_hh.T, params.b_ih[None], params.b_hh[None]]).astype(store)
        if precision == "tf32":
            w = _tf32(w)
        h, c = h.astype(store), c.astype(store)
        hidden, hs = params.hidden_size, []
        for x in xs.astype(store):
            a = np.concatenate([x, h, np.ones((len(x), 2), store)], axis=1)
            z = REDUCTIONS[self.reduce](_tf32(a) if precision == "tf32" else a, w, acc).astype(store).astype(inner)
            i, f, g, o = (self._sigmoid(z[:, k * hidden:(k + 1) * hidden]) if k != 2 else
                          self._tanh(z[:, k * hidden:(k + 1) * hidden]) for k in range(4))
            c = (f * c.astype(inner) + i * g).astype(store)
            h = (o * self._tanh(c.astype(inner))).astype(store)
            hs.append(h)
        return np.stack(hs).astype(np.float64), c.astype(np.float64)

    def _sigmoid(self, z: np.ndarray) -> np.ndarray:
        return sigmoid_by_tanh(z) if self.tanh_sigmoid else numpy_sigmoid(z)

    def _tanh(self, z: np.ndarray) -> np.ndarray:
        return tanh_by_sigmoid(z) if self.sigmoid_tanh else np.tanh(z)


def members(dtype: str) -> list[Member]:
    """The written-out members at ``dtype``."""
    wides = (False, True) if dtype in ("float16", "bfloat16") else (False,)
    reductions = [r for r in REDUCTIONS if not (r == "sequential-fma" and dtype == "float64")]
    return [Member(r, wide) for r in reductions for wide in wides] + [Member("blas", tanh_sigmoid=True),
                                                                       Member("blas", sigmoid_tanh=True)]


AGREEMENT = "test_sequence_agrees_with_reference"
"""The law whose comparison the calibration repeats: a column with a known difference in it is no
correct member."""


@cache
def columns(dtype: str, precision: str) -> tuple[str, ...]:
    """The built-in columns in the ensemble at ``dtype``: those that declare ``precision`` there and have
    no known difference in :data:`AGREEMENT`, and can run on this machine (in this process, or in one
    with their environment)."""
    from lstm_verify.adapters import builtin_adapter
    from lstm_verify.implementation import Implementation

    chosen = []
    for name in BUILTIN:
        adapter = builtin_adapter(name)
        if (Implementation(adapter, dtype).precision == precision
                and not any(e.law == AGREEMENT for e in adapter.known_differences(dtype))
                and adapter.unavailable() in (None, adapter.wrong_environment()) and adapter.unsupported(dtype) is None):
            chosen.append(name)
    return tuple(chosen)


def _column_run(name: str, dtype: str) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """The built-in column ``name`` at ``dtype`` as a run function: hs (T, B, H) and c_T, in float64."""
    from lstm_verify.implementation import implementation

    impl = implementation(name, dtype)

    def run(params: Params, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hs, (_, c) = impl.run(params, xs, h0, c0)
        return np.asarray(hs, np.float64), np.asarray(c, np.float64)
    return run


@dataclass(frozen=True)
class Errors:
    """The ensemble's errors on one case: elementwise largest over members, and each member's largest."""

    hs: np.ndarray
    c: np.ndarray
    members: dict[str, float]


def cache_dir() -> Path:
    return Path(os.environ.get("LSTM_VERIFY_CACHE_DIR", ".lstm_verify")) / "calibration"


def _path(member: str, dtype: str, precision: str, shape: tuple[int, int, int], steps: int, seed: int) -> Path:
    return cache_dir() / f"{member}-{dtype}-{precision}-{'x'.join(map(str, shape))}-{steps}-{seed}.npz"


@cache
def _case(shape: tuple[int, int, int], steps: int, seed: int) -> tuple[tuple[np.ndarray, ...], reference.Trace]:
    """``Case(*shape, steps, seed)``'s arrays and the reference's run of them, once per process."""
    arrays = Case(*shape, steps=steps, seed=seed).arrays()
    return arrays, reference.lstm_forward(*arrays)


def _member_errors(member: str, run: Callable[..., tuple[np.ndarray, np.ndarray]], dtype: str, precision: str,
                   shape: tuple[int, int, int], steps: int, seed: int, cache: bool) -> tuple[np.ndarray, np.ndarray]:
    """``|got - want|`` of one member on ``Case(*shape, steps, seed)`` for hs and c_T, cached per member."""
    path = _path(member, dtype, precision, shape, steps, seed)
    if cache and path.exists():
        saved = np.load(path)
        return saved["hs"], saved["c"]
    arrays, want = _case(shape, steps, seed)
    hs, c = run(*arrays)
    errors = np.abs(hs - want.hs), np.abs(c - want.cs[-1])
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, hs=errors[0], c=errors[1])
    return errors


def _in_its_environment(name: str, dtype: str, precision: str, shape: tuple[int, int, int], steps: int,
                        count: int) -> None:
    """Measure the column ``name`` on every case of :data:`CASES` (at its :func:`seeds`) and on ``(shape,
    steps)`` at seeds ``0 .. count - 1``, in a process with its environment (a Keras back end is read once
    per process), filling the cache."""
    from lstm_verify.adapters import builtin_adapter

    env = {**os.environ, **builtin_adapter(name).environment, "LSTM_VERIFY_CACHE_DIR": str(cache_dir().parent)}
    subprocess.run([sys.executable, "-m", "tests.catalogue.calibration", "--column", name, "--dtypes", dtype,
                    "--precision", precision, "--case", f"{'x'.join(map(str, shape))}:{steps}:{count}"],
                   env=env, check=True, stdout=subprocess.DEVNULL)


def ensemble_errors(dtype: str, precision: str, shape: tuple[int, int, int], steps: int, seed: int = 0,
                    adapters: bool = True, cache: bool = True, count: int = 1) -> Errors:
    """|got - want| of every member on ``Case(*shape, steps, seed)``, each member's cached (they do not
    depend on the error model); the built-in columns only with ``adapters`` and ``cache`` (a column that
    runs in another process measures seeds ``0 .. count - 1`` there at once)."""
    runs = {m.name: (lambda *arrays, m=m: m.run(*arrays, dtype, precision)) for m in members(dtype)}
    if adapters and cache:
        from lstm_verify.adapters import builtin_adapter

        for name in columns(dtype, precision):
            if builtin_adapter(name).wrong_environment():
                if not _path(name, dtype, precision, shape, steps, seed).exists():
                    _in_its_environment(name, dtype, precision, shape, steps, max(count, seed + 1))
                runs[name] = None
            else:
                runs[name] = _column_run(name, dtype)
    _, want = _case(shape, steps, seed)
    hs_err, c_err, largest = np.zeros_like(want.hs), np.zeros_like(want.cs[-1]), {}
    for name, run in runs.items():
        dh, dc = _member_errors(name, run, dtype, precision, shape, steps, seed, cache)
        hs_err, c_err = np.maximum(hs_err, dh), np.maximum(c_err, dc)
        largest[name] = float(max(dh.max(), dc.max()))
    return Errors(hs_err, c_err, largest)


@dataclass(frozen=True)
class Tightness:
    """The bound against the ensemble at one size, over its cases."""

    cases: int
    values: int
    largest_error: float
    bound_there: float
    tightness: float
    """min over the values of bound / largest error: below 1 a correct member would fail."""
    median: float
    """The median over the values of bound / largest error."""
    worst_member: str


def tightness(dtype: str, precision: str, shape: tuple[int, int, int], steps: int, count: int | None = None,
              adapters: bool = True, cache: bool = True) -> Tightness:
    """How tight the error model's bound is on the ensemble at one size, over the cases at seeds
    ``0 .. count - 1`` (:func:`seeds` unless given)."""
    count = seeds(shape, steps) if count is None else count
    errs, bounds, worst = [], [], {}
    for seed in range(count):
        errors = ensemble_errors(dtype, precision, shape, steps, seed, adapters, cache, count)
        (params, xs, h0, c0), _ = _case(shape, steps, seed)
        bound = error_model.forward_bounds(params, xs, h0, c0, dtype, precision)
        errs.append(np.concatenate([errors.hs.ravel(), errors.c.ravel()]))
        bounds.append(np.concatenate([bound.hs.ravel(), bound.cs[-1].ravel()]))
        worst = {name: max(e, worst.get(name, 0.0)) for name, e in errors.members.items()}
    err, bound = np.concatenate(errs), np.concatenate(bounds)
    ratio = bound / np.maximum(err, np.finfo(np.float64).tiny)
    k = int(np.argmax(err))
    return Tightness(count, len(err), float(err[k]), float(bound[k]), float(ratio.min()), float(np.median(ratio)),
                     max(worst, key=worst.get))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dtypes", default=",".join(dict.fromkeys(d for d, _ in COLUMNS)))
    parser.add_argument("--no-adapters", action="store_true", help="the written-out members only")
    parser.add_argument("--column", help="measure this built-in column alone on every case, into the cache")
    parser.add_argument("--precision", default="ieee", help="with --column")
    parser.add_argument("--case", help="with --column: B x I x H : T : SEEDS, measured besides CASES")
    args = parser.parse_args()
    if args.column:
        run = _column_run(args.column, args.dtypes)
        plan = [(shape, steps, seeds(shape, steps)) for shape, steps in CASES]
        if args.case:
            shape, steps, count = args.case.split(":")
            plan.append((tuple(map(int, shape.split("x"))), int(steps), int(count)))
        for shape, steps, count in plan:
            for seed in range(count):
                _member_errors(args.column, run, args.dtypes, args.precision, shape, steps, seed, cache=True)
        return 0
    print("| dtype | precision | B, I, H | T | cases | values | largest error | bound there | min bound / error | "
          "median bound / error | worst member |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for dtype, precision in COLUMNS:
        if dtype not in args.dtypes.split(","):
            continue
        for shape, steps in CASES:
            t = tightness(dtype, precision, shape, steps, adapters=not args.no_adapters)
            print(f"| {dtype} | {precision} | {', '.join(map(str, shape))} | {steps} | {t.cases} | {t.values} | "
                  f"{t.largest_error:.3g} | {t.bound_there:.3g} | {t.tightness:.3g} | {t.median:.3g} | "
                  f"{t.worst_member} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
