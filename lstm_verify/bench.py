"""``lstm-verify bench``: step time of any implementation, next to baselines, checked as it is timed.

For each implementation, shape, device and precision it times one step, a sequence forward and
forward + backward through time (after PyTorch's ``benchmarks/fastrnns``: every implementation
is wrapped in a runner of the same shape), and reports per row

* microseconds per step (median over repeats after warm-up, and the spread),
* achieved FLOP/s, counting ``2 * B * 4H * (I + H)`` matmul flops per step forward and three
  times that for forward + backward (the two backward matmuls per forward one),
* the fraction of this device's matmul peak for that dtype, measured in the same run,
* the ratio of its time to the baselines run in the same process on the same device: torch
  ``nn.LSTM`` (cuDNN on a GPU), the ``nn.LSTMCell`` loop and, on a GPU, that loop captured in
  a CUDA graph,
* one agreement check of the timed call's output against the float64 reference at the row's
  precision, so a fast wrong kernel is flagged instead of reported as fast.

CUDA is timed with events (torch) or by blocking until ready (JAX, whose first call, compile
included, is reported on its own as ``first_call_s``). :mod:`lstm_verify.asv` runs the same
measurements inside asv suites.
"""

from __future__ import annotations

import math
import os
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, NamedTuple

import numpy as np

from lstm_verify import reference
from lstm_verify.adapters import Adapter, builtin_adapter
from lstm_verify.checks import LawViolation, assert_close
from lstm_verify.implementation import Implementation
from lstm_verify.layouts import canonical_grads
from lstm_verify.params import Case


class Shape(NamedTuple):
    batch: int
    input_size: int
    hidden: int
    steps: int

    def __str__(self) -> str:
        return f"B={self.batch} I={self.input_size} H={self.hidden} T={self.steps}"


SHAPES: dict[str, Shape] = {
    "fastrnns": Shape(64, 512, 512, 100),      # PyTorch's benchmarks/fastrnns default
    "streaming": Shape(1, 64, 128, 100),       # one sequence at a time, as in online inference
    "large-batch": Shape(1024, 128, 128, 20),
    "small-hidden": Shape(64, 32, 32, 100),    # launch overhead dominates
    "wide": Shape(64, 1024, 1024, 100),
}
QUICK_SHAPES = ("streaming", "small-hidden")
"""The default of ``lstm-verify bench``: seconds on two CPU cores. ``--shapes all`` for the rest."""
MODES = ("step", "forward", "forward_backward")
FLOP_FACTOR = {"step": 1, "forward": 1, "forward_backward": 3}
"""Matmul flops of a mode per step, in forward steps: backward does two matmuls per forward one."""
BASELINES = ("torch-lstm", "torch-cell", "torch-cell-graph")
"""torch ``nn.LSTM``, the ``nn.LSTMCell`` loop, and (CUDA only) that loop replayed from a CUDA graph."""


def flops_per_step(shape: Shape, mode: str = "forward") -> float:
    """Matmul flops of one step: ``2 * B * 4H * (I + H)`` forward, three times that forward + backward."""
    return FLOP_FACTOR[mode] * 2.0 * shape.batch * 4 * shape.hidden * (shape.input_size + shape.hidden)


def parse_shape(text: str) -> Shape:
    """``"B,I,H,T"`` -> :class:`Shape`."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or min(values) < 1:
        raise ValueError(f"a shape is four positive integers B,I,H,T; got {text!r}")
    return Shape(*values)


class Unavailable(NotImplementedError):
    """This implementation, device, precision or mode cannot run here; the message says why
    (a NotImplementedError, which asv records as skipped)."""


# --- devices ---------------------------------------------------------------------------------------

def torch_cuda() -> bool:
    """A CUDA device torch can use."""
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def jax_gpu() -> Any:
    """JAX's first GPU device, or None. JAX then allocates GPU memory on demand instead of taking
    75 % of it up front, which would leave torch's runners short."""
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    try:
        import jax
        return jax.devices("gpu")[0]
    except Exception:  # no jax, or no GPU backend
        return None


def devices() -> list[str]:
    """The devices this machine can benchmark: cpu, and cuda when torch or JAX sees a GPU."""
    return ["cpu"] + (["cuda"] if torch_cuda() or jax_gpu() is not None else [])


# --- runners -----------------------------------------------------------------------------------------

class Runner:
    """One implementation loaded at one shape, device and dtype, with its data on the device.

    ``calls[mode]()`` runs step / forward / forward + backward natively and returns the raw
    output; ``outputs(mode, raw)`` turns it into NumPy arrays for the agreement check.
    ``cuda_events``: time with CUDA events rather than the wall clock."""

    cuda_events = False
    problem: Problem

    def __init__(self) -> None:
        self.calls: dict[str, Callable[[], Any]] = {}

    def outputs(self, mode: str, raw: Any) -> dict[str, np.ndarray]:
        raise NotImplementedError


class Problem:
    """The float64 case a shape is benchmarked on, and the implementation's parameters for it."""

    def __init__(self, adapter: Adapter, shape: Shape, dtype: str) -> None:
        case = Case(*shape, seed=0)
        self.params, self.xs, self.h0, self.c0 = case.arrays()
        self.gh, self.gc = case.loss_weights()
        self.native = adapter.layout.to_native(self.params, storage_dtype(dtype), np.random.default_rng(0))
        self.layout, self.input_size = adapter.layout, shape.input_size

    def inputs(self, dtype: str) -> list[np.ndarray]:
        return [np.asarray(a, storage_dtype(dtype)) for a in (self.xs, self.h0, self.c0, self.gh, self.gc)]

    def grads(self, native_grads: dict, x: Any, h0: Any, c0: Any) -> dict[str, np.ndarray]:
        g = canonical_grads(self.layout, native_grads, x, h0, c0, self.input_size)
        return {f"dL/d{name}": value for name, value in g.items()}


def storage_dtype(dtype: str) -> str:
    """The NumPy dtype arrays are handed over in: bfloat16 travels as float32 (NumPy has none)."""
    return "float32" if dtype == "bfloat16" else dtype


class ModelRunner(Runner):
    """Any :class:`~lstm_verify.adapters.Model` through its NumPy interface (NumPy steps, the
    reference's own port, bidirectional wrappers): step, its sequence API or a step loop, grads."""

    def __init__(self, model: Any, problem: Problem, dtype: str, has_sequence: bool, has_grads: bool) -> None:
        super().__init__()
        xs, h0, c0, gh, gc = problem.inputs(dtype)
        self.problem = problem

        def forward() -> Any:
            if has_sequence:
                return model.sequence(xs, (h0, c0))
            hs, state = [], (h0, c0)
            for x in xs:
                state = model.step(x, state)
                hs.append(state[0])
            return np.stack(hs), state

        self.calls = {"step": lambda: model.step(xs[0], (h0, c0)), "forward": forward}
        if has_grads:
            self.calls["forward_backward"] = lambda: model.grads(xs, h0, c0, gh, gc)

    def outputs(self, mode: str, raw: Any) -> dict[str, np.ndarray]:
        if mode == "step":
            return {"h": np.asarray(raw[0]), "c": np.asarray(raw[1])}
        if mode == "forward":
            return {"hs": np.asarray(raw[0]), "c_T": np.asarray(raw[1][1])}
        return self.problem.grads(raw.params, raw.x, raw.h0, raw.c0)


class TorchRunner(Runner):
    """A :class:`~lstm_verify.adapters._torch.TorchModel` called natively through ``run`` on
    device-resident tensors; gradients by ``torch.autograd.grad`` (nothing accumulates)."""

    def __init__(self, model: Any, problem: Problem, device: str, dtype: str) -> None:
        import torch

        super().__init__()
        self.problem, self.device = problem, device
        if device != "cpu":
            model.module.to(device)
            model.device = device
            self.cuda_events = True
        tdtype = getattr(torch, dtype)
        xs, h0, c0, gh, gc = (torch.from_numpy(a).to(device=device, dtype=tdtype) for a in problem.inputs(dtype))
        leaves = [a.clone().requires_grad_(True) for a in (xs, h0, c0)]
        wrt = leaves + list(model.tensors.values())

        def step() -> Any:
            with torch.no_grad(), model.precision():
                return model.run(xs[:1], (h0, c0))[1]

        def forward() -> Any:
            with torch.no_grad(), model.precision():
                return model.run(xs, (h0, c0))

        def forward_backward() -> Any:
            with model.precision():
                hs, (_, c) = model.run(leaves[0], (leaves[1], leaves[2]))
                loss = (hs * gh).sum() + (c * gc).sum()
                return torch.autograd.grad(loss, wrt, allow_unused=True)

        self.calls = {"step": step, "forward": forward, "forward_backward": forward_backward}
        self.model, self.names = model, list(model.tensors)

    def outputs(self, mode: str, raw: Any) -> dict[str, np.ndarray]:
        def array(t: Any) -> np.ndarray:
            return t.detach().float().cpu().numpy()

        if mode == "step":
            return {"h": array(raw[0]), "c": array(raw[1])}
        if mode == "forward":
            return {"hs": array(raw[0]), "c_T": array(raw[1][1])}
        x, h0, c0, *params = raw
        native = {name: array(g) if g is not None else np.zeros(tuple(t.shape))
                  for (name, t), g in zip(self.model.tensors.items(), params)}
        return self.problem.grads(native, array(x), array(h0), array(c0))


class CudaGraphRunner(TorchRunner):
    """The same torch cell loop, step and forward each captured once in a CUDA graph and replayed."""

    def __init__(self, model: Any, problem: Problem, device: str, dtype: str) -> None:
        import torch

        super().__init__(model, problem, device, dtype)
        graphed = {}
        for mode in ("step", "forward"):
            call = self.calls[mode]
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):  # warm up on a side stream, as torch.cuda.graph requires
                    call()
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                out = call()
            graphed[mode] = (lambda g, o: lambda: (g.replay(), o)[1])(graph, out)
        self.calls = graphed  # forward + backward is not captured


class JaxRunner(Runner):
    """A :class:`~lstm_verify.adapters.jax_step.JaxModel`'s jitted functions on device arrays,
    blocked until ready. On a GPU float32 matmuls run at ``precision="highest"`` (not TF32)."""

    def __init__(self, model: Any, problem: Problem, device: str, dtype: str) -> None:
        import jax

        super().__init__()
        self.problem = problem
        target = jax.devices("cpu")[0] if device == "cpu" else jax_gpu()
        if target is None:
            raise Unavailable("JAX sees no GPU")
        fns, names = model.fns, model.names
        params = jax.device_put(model.params, target)
        xs, h0, c0, gh, gc = jax.device_put(problem.inputs(dtype), target)

        def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[], Any]:
            def call() -> Any:
                with jax.default_matmul_precision("highest"):
                    return jax.block_until_ready(fn(params, *args, **kwargs))
            return call

        self.calls = {"step": run(jax.jit(fns.cell), xs[0], h0, c0),
                      "forward": run(fns.sequence, xs, h0, c0, None, reverse=False),
                      "forward_backward": run(fns.grads, xs, h0, c0, gh, gc)}
        self.back = {v: k for k, v in names.items()}

    def outputs(self, mode: str, raw: Any) -> dict[str, np.ndarray]:
        if mode == "step":
            return {"h": np.asarray(raw[0]), "c": np.asarray(raw[1])}
        if mode == "forward":
            return {"hs": np.asarray(raw[0]), "c_T": np.asarray(raw[1][1])}
        gp, gx, gh0, gc0 = raw
        native = {self.back[k]: np.asarray(v) for k, v in gp.items()}
        return self.problem.grads(native, np.asarray(gx), np.asarray(gh0), np.asarray(gc0))


def make_runner(adapter: Adapter, shape: Shape, device: str, dtype: str, graph: bool = False) -> Runner:
    """Load ``adapter`` at ``shape`` on ``device`` in ``dtype``; :class:`Unavailable` says why not."""
    reason = adapter.unavailable() or adapter.unsupported(dtype)
    if reason:
        raise Unavailable(reason)
    problem = Problem(adapter, shape, dtype)
    model = adapter.load(problem.native, dtype)
    if _is_torch_model(model):
        import torch

        if device == "cuda" and not (torch_cuda() and isinstance(model.module, torch.nn.Module)):
            raise Unavailable("no CUDA device for torch (or not a torch module)")
        if graph:
            if device != "cuda":
                raise Unavailable("CUDA graphs need a CUDA device")
            return CudaGraphRunner(model, problem, device, dtype)
        return TorchRunner(model, problem, device, dtype)
    if "jax" in adapter.requires:
        from lstm_verify.adapters.jax_step import JaxModel

        if isinstance(model, JaxModel):
            return JaxRunner(model, problem, device, dtype)
    if device != "cpu":
        raise Unavailable(f"{adapter.name} runs on the CPU only")
    caps = adapter.capabilities
    return ModelRunner(model, problem, dtype, caps.sequence, caps.gradients)


def _is_torch_model(model: Any) -> bool:
    try:
        from lstm_verify.adapters._torch import TorchModel
    except ImportError:
        return False
    return isinstance(model, TorchModel)


# --- timing ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Timing:
    """Seconds per call: median and quartiles over ``repeats`` timings of ``number`` calls each;
    ``first_call`` is the first call alone (for JAX it includes compiling)."""

    median: float
    q1: float
    q3: float
    repeats: int
    number: int
    first_call: float

    @property
    def spread(self) -> float:
        """Interquartile range over the median."""
        return (self.q3 - self.q1) / self.median if self.median > 0 else math.nan


def _elapsed(fn: Callable[[], Any], number: int, cuda_events: bool) -> float:
    if cuda_events:
        import torch

        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(number):
            fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3
    start_s = time.perf_counter()
    for _ in range(number):
        fn()
    return time.perf_counter() - start_s


def time_call(fn: Callable[[], Any], repeats: int = 5, min_time: float = 0.01, cuda_events: bool = False,
              warmup: int = 1) -> Timing:
    """Time ``fn`` after ``warmup`` calls: each repeat runs it enough times to last ``min_time``."""
    first = _elapsed(fn, 1, cuda_events)
    once = first
    for _ in range(warmup):
        once = _elapsed(fn, 1, cuda_events)
    number = max(1, math.ceil(min_time / max(once, 1e-9)))
    samples = sorted(_elapsed(fn, number, cuda_events) / number for _ in range(repeats))
    q1, median, q3 = (np.quantile(samples, [0.25, 0.5, 0.75]) if len(samples) > 1 else [samples[0]] * 3)
    return Timing(float(median), float(q1), float(q3), repeats, number, first)


def matmul_peak(device: str, dtype: str, n: int = 1024, repeats: int = 5) -> float:
    """This device's matmul FLOP/s in ``dtype`` (best of ``repeats`` n x n products, torch, or NumPy
    without torch); the yardstick for the fraction of peak. float32 on a GPU without TF32."""
    try:
        import torch
    except ImportError:
        if device != "cpu":
            raise Unavailable("no torch to measure the GPU's matmul peak") from None
        a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
        return 2.0 * n ** 3 / time_call(lambda: a @ a, repeats, 0.0).q1
    from lstm_verify.adapters._torch import fp32_precision

    a = torch.randn(n, n, device=device, dtype=getattr(torch, dtype))
    best = math.inf
    with fp32_precision("ieee") if device != "cpu" else nullcontext():
        _elapsed(lambda: a @ a, 2, device != "cpu")
        for _ in range(repeats):
            best = min(best, _elapsed(lambda: a @ a, 1, device != "cpu"))
    return 2.0 * n ** 3 / best


# --- rows ----------------------------------------------------------------------------------------------

@dataclass
class Row:
    """One implementation x shape x device x dtype x mode. ``agreement`` is "ok", or the law
    violation / error of the timed call's output against the float64 reference; ``status`` is
    "ok", "WRONG" (disagrees: its time is not a result) or "skipped" (``reason``)."""

    implementation: str
    shape: str
    batch: int
    input_size: int
    hidden: int
    steps: int
    device: str
    dtype: str
    mode: str
    status: str = "ok"
    reason: str = ""
    us_per_step: float = math.nan
    spread: float = math.nan
    repeats: int = 0
    number: int = 0
    first_call_s: float = math.nan
    flops_per_step: float = math.nan
    gflops: float = math.nan
    peak_gflops: float = math.nan
    peak_fraction: float = math.nan
    floor_us_per_step: float = math.nan
    agreement: str = ""
    ratios: dict[str, float] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return self.shape, self.device, self.dtype, self.mode

    def as_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


def agreement(runner: Runner, mode: str, raw: Any, adapter: Adapter, dtype: str) -> str:
    """Check the timed call's output against the float64 reference: "ok" or what is wrong."""
    problem = runner.problem
    p, xs, h0, c0 = problem.params, problem.xs, problem.h0, problem.c0
    impl = Implementation(adapter, dtype)
    if mode == "step":  # the cell the implementation computes (an ONNX node's clip, activations, ...)
        want_h, want_c = reference.lstm_step(p, xs[0], h0, c0, variant=impl.variant)
        bound_h, bound_c = impl.step_bounds(p, xs[0], h0, c0)
        want, bounds = {"h": want_h, "c": want_c}, {"h": bound_h, "c": bound_c}
    elif mode == "forward":
        trace, b = reference.lstm_forward(p, xs, h0, c0, variant=impl.variant), impl.forward_bounds(p, xs, h0, c0)
        want, bounds = {"hs": trace.hs, "c_T": trace.cs[-1]}, {"hs": b.hs, "c_T": b.cs[-1]}
    else:
        g = reference.lstm_backward(p, xs, h0, c0, problem.gh, problem.gc)
        b = impl.gradient_bounds(p, xs, h0, c0, problem.gh, problem.gc)
        want = {f"dL/d{name}": value for name, value in g.items()}
        bounds = {f"dL/d{name}": value for name, value in b.items()}
    try:
        got = runner.outputs(mode, raw)
        for name, value in want.items():
            assert_close(name, got[name], value, bounds[name], impl, f"bench {mode}")
    except LawViolation as exc:
        return str(exc)
    except KeyError as exc:
        return f"not checked: no tolerance or output for {exc}"
    return "ok"


def measure(adapter: Adapter, shape: Shape, device: str, dtype: str, modes: Iterable[str] = MODES,
            shape_name: str = "", repeats: int = 5, min_time: float = 0.01, name: str | None = None,
            graph: bool = False) -> list[Row]:
    """Time ``adapter`` in each of ``modes``, each row checked against the reference once."""
    label = name or adapter.name
    rows = [Row(label, shape_name or "custom", *shape, device, dtype, mode) for mode in modes]
    try:
        runner = make_runner(adapter, shape, device, dtype, graph)
    except Unavailable as exc:
        return [_skip(row, str(exc)) for row in rows]
    except Exception as exc:  # the implementation failed to load: one line, not a traceback
        return [_skip(row, f"loading failed: {type(exc).__name__}: {exc}") for row in rows]
    for row in rows:
        call = runner.calls.get(row.mode)
        if call is None:
            _skip(row, f"{label} has no {row.mode.replace('_', ' + ')} here")
            continue
        try:
            timing = time_call(call, repeats, min_time, runner.cuda_events)
            row.agreement = agreement(runner, row.mode, call(), adapter, dtype)
        except Exception as exc:  # a crash in the implementation is a result of the row, not of the run
            _skip(row, f"{type(exc).__name__}: {exc}")
            continue
        per_step = timing.median / (1 if row.mode == "step" else shape.steps)
        row.us_per_step, row.spread = per_step * 1e6, timing.spread
        row.repeats, row.number, row.first_call_s = timing.repeats, timing.number, timing.first_call
        row.flops_per_step = flops_per_step(shape, row.mode)
        row.gflops = row.flops_per_step / per_step / 1e9
        if row.agreement != "ok":
            row.status = "WRONG"
    return rows


def _skip(row: Row, reason: str) -> Row:
    row.status, row.reason = "skipped", reason
    return row


def add_peaks(rows: list[Row], peaks: dict[tuple[str, str], float]) -> None:
    """Fill in the fraction of the (device, dtype) matmul peak and the FLOP floor per step."""
    for row in rows:
        peak = peaks.get((row.device, row.dtype))
        if peak and row.flops_per_step == row.flops_per_step:
            row.peak_gflops = peak / 1e9
            row.peak_fraction = row.gflops * 1e9 / peak
            row.floor_us_per_step = row.flops_per_step / peak * 1e6


def add_ratios(rows: list[Row], baselines: Iterable[str] = BASELINES) -> None:
    """Each row's time over each baseline's at the same shape, device, dtype and mode (> 1: slower)."""
    times = {(r.implementation, r.key): r.us_per_step for r in rows if r.status == "ok"}
    for row in rows:
        for base in baselines:
            other = times.get((base, row.key))
            if other and row.status != "skipped" and base != row.implementation:
                row.ratios[base] = row.us_per_step / other


@dataclass
class Subject:
    """An implementation to benchmark: an adapter under a label; ``graph`` replays it from a CUDA graph."""

    name: str
    adapter: Adapter
    graph: bool = False


def baseline_subjects() -> list[Subject]:
    """torch's ``nn.LSTM``, the ``nn.LSTMCell`` loop and (on CUDA) the loop in a CUDA graph."""
    cell = builtin_adapter("torch-cell")
    return [Subject("torch-lstm", builtin_adapter("torch-lstm")), Subject("torch-cell", cell),
            Subject("torch-cell-graph", cell, graph=True)]


def precisions(adapter: Adapter, requested: Iterable[str]) -> list[str]:
    """The requested dtypes this adapter declares (float32 always tried, skipped with a reason if absent)."""
    declared = adapter.capabilities.dtypes
    return [d for d in requested if d in declared or d == "float32"]


def run(subjects: list[Subject], shapes: dict[str, Shape], device_list: Iterable[str], dtypes: Iterable[str],
        modes: Iterable[str] = MODES, repeats: int = 5, min_time: float = 0.01, baselines: bool = True,
        progress: Callable[[Row], None] | None = None) -> list[Row]:
    """Benchmark every subject (and the baselines) at every shape, device and dtype: rows with
    peak fractions, baseline ratios and agreement verdicts."""
    if baselines:
        names = {s.name for s in subjects}
        subjects = subjects + [s for s in baseline_subjects() if s.name not in names]
    rows: list[Row] = []
    dtypes, modes = list(dtypes), list(modes)
    peaks: dict[tuple[str, str], float] = {}
    for device in device_list:
        for dtype in dtypes:
            try:
                peaks[device, dtype] = matmul_peak(device, dtype)
            except Exception:  # no peak for this dtype here: fractions stay empty
                pass
        for shape_name, shape in shapes.items():
            for subject in subjects:
                if subject.graph and device != "cuda":
                    continue
                for dtype in precisions(subject.adapter, dtypes):
                    for row in measure(subject.adapter, shape, device, dtype, modes, shape_name, repeats, min_time,
                                       subject.name, subject.graph):
                        rows.append(row)
                        if progress:
                            progress(row)
    add_peaks(rows, peaks)
    add_ratios(rows)
    return rows


# --- reports ---------------------------------------------------------------------------------------

def table(rows: list[Row]) -> str:
    """A plain-text table, one line per timed row, then the skipped rows with their reasons."""
    timed = [r for r in rows if r.status != "skipped"]
    bases = [b for b in BASELINES if any(b in r.ratios for r in timed)]
    header = ["implementation", "shape", "device", "dtype", "mode", "us/step", "spread", "GFLOP/s",
              "of peak"] + [f"x {b}" for b in bases] + ["first call", "agrees"]
    lines = [header]
    for r in timed:
        lines.append([r.implementation, r.shape, r.device, r.dtype, r.mode, f"{r.us_per_step:.4g}",
                      f"{r.spread:.0%}", f"{r.gflops:.3g}", _pct(r.peak_fraction)]
                     + [f"{r.ratios[b]:.2f}" if b in r.ratios else "-" for b in bases]
                     + [f"{r.first_call_s * 1e3:.3g} ms", "yes" if r.agreement == "ok" else "NO"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    notes = ["", "us/step: median microseconds per step (a sequence's time / T); spread: interquartile range / "
             "median; GFLOP/s counts 2*B*4H*(I+H) matmul flops per step forward, 3x that for forward + backward; "
             "of peak: of this device's n=1024 matmul FLOP/s in that dtype, measured in this run; x NAME: time "
             "over that baseline's (> 1 slower); first call: includes JAX's compile."]
    for r in rows:
        if r.status == "WRONG":
            notes.append(f"WRONG {r.implementation} {r.shape} {r.device} {r.dtype} {r.mode}: {r.agreement}")
    skipped = sorted({(r.implementation, r.device, r.dtype, r.mode, r.reason) for r in rows if r.status == "skipped"})
    notes += [f"skipped {impl} {device} {dtype} {mode}: {reason}" for impl, device, dtype, mode, reason in skipped]
    return "\n".join(text + notes)


def _pct(value: float) -> str:
    return "-" if value != value else f"{value:.1%}"


def plot(rows: list[Row], prefix: str) -> list[str]:
    """Time per step against hidden size, one line per implementation (device, dtype), one panel
    per mode, with the FLOP floor (flops / measured matmul peak); writes PREFIX.png and PREFIX.svg."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    timed = [r for r in rows if r.status != "skipped"]
    modes = [m for m in MODES if any(r.mode == m for r in timed)]
    fig, axes = plt.subplots(1, max(len(modes), 1), figsize=(5.5 * max(len(modes), 1), 4.5), squeeze=False)
    for ax, mode in zip(axes[0], modes):
        lines: dict[str, list[Row]] = {}
        for r in timed:
            if r.mode == mode:
                lines.setdefault(f"{r.implementation} {r.device} {r.dtype}", []).append(r)
        for label, group in sorted(lines.items()):
            group.sort(key=lambda r: (r.hidden, r.batch))
            wrong = any(r.status == "WRONG" for r in group)
            ax.plot([r.hidden for r in group], [r.us_per_step for r in group], "o-" if not wrong else "x:",
                    label=label + (" (WRONG)" if wrong else ""))
        floors: dict[tuple[str, str], list[Row]] = {}
        for r in timed:
            if r.mode == mode and r.floor_us_per_step == r.floor_us_per_step:
                floors.setdefault((r.device, r.dtype), []).append(r)
        for (device, dtype), group in sorted(floors.items()):
            points = sorted({(r.hidden, r.batch, r.floor_us_per_step) for r in group})
            ax.plot([p[0] for p in points], [p[2] for p in points], "k--", lw=1,
                    label=f"FLOP floor {device} {dtype}")
        ax.set(xscale="log", yscale="log", xlabel="hidden size H", ylabel="microseconds per step",
               title=mode.replace("_", " + "))
        ax.legend(fontsize=7)
    fig.tight_layout()
    paths = [f"{prefix}.png", f"{prefix}.svg"]
    for path in paths:
        fig.savefig(path)
    plt.close(fig)
    return paths


# --- command line ------------------------------------------------------------------------------------

def add_arguments(parser: Any) -> None:
    """The options of ``lstm-verify bench``."""
    from lstm_verify.targets import add_target_arguments

    add_target_arguments(parser)
    parser.add_argument("--adapters", default="all", help="built-in adapters without TARGET (comma-separated)")
    parser.add_argument("--shapes", default=None,
                        help=f"named shapes, comma-separated, or 'all' ({', '.join(f'{k}: {v}' for k, v in SHAPES.items())}); "
                             f"default {','.join(QUICK_SHAPES)}")
    parser.add_argument("--shape", action="append", default=[], metavar="B,I,H,T", type=_shape_arg,
                        help="a shape of your own (repeatable); replaces --shapes unless that is given too")
    parser.add_argument("--modes", default=",".join(MODES), help="step,forward,forward_backward")
    parser.add_argument("--dtypes", default="float32", help="precisions, if the implementation declares them")
    parser.add_argument("--devices", default=None, help="cpu,cuda (default: every device present)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats after warm-up (default 5)")
    parser.add_argument("--min-time", type=float, default=0.01,
                        help="seconds one repeat lasts at least, calling the implementation several times")
    parser.add_argument("--quick", action="store_true", help="3 repeats of at least 2 ms, streaming shape only")
    parser.add_argument("--no-baselines", action="store_true", help="skip nn.LSTM / nn.LSTMCell baselines")
    parser.add_argument("--json", metavar="PATH", help="write one record per row")
    parser.add_argument("--plot", default="lstm-bench", metavar="PREFIX",
                        help="write PREFIX.png and PREFIX.svg (default lstm-bench); '' for none")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def _shape_arg(text: str) -> Shape:
    import argparse

    try:
        return parse_shape(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _split(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def command(args: Any) -> int:
    """``lstm-verify bench``: 0 when every timed row agrees with the reference, 1 when any does
    not, 2 when TARGET or an option is wrong."""
    import json
    import sys

    from lstm_verify.adapters import BUILTIN
    from lstm_verify.targets import TargetError, chosen_adapters

    try:
        adapters = chosen_adapters(args)
        if adapters is not None:  # one per LSTM node of an ONNX model (<model>/<node>); <name>-via-onnx
            subjects = [Subject(a.name, a) for a in adapters]
        else:
            names = [n for n in BUILTIN if not n.endswith("-cuda")] if args.adapters == "all" else _split(args.adapters)
            unknown = [n for n in names if n not in BUILTIN]
            if unknown:
                raise TargetError(f"unknown adapter {unknown[0]!r}; choose from {', '.join(BUILTIN)}")
            subjects = [Subject(n, builtin_adapter(n)) for n in names]
        if args.shapes:
            named = list(SHAPES) if args.shapes == "all" else _split(args.shapes)
        else:
            named = [] if args.shape else ["streaming"] if args.quick else list(QUICK_SHAPES)
        unknown = [n for n in named if n not in SHAPES]
        if unknown:
            raise TargetError(f"unknown shape {unknown[0]!r}; choose from {', '.join(SHAPES)} or give --shape B,I,H,T")
        modes = _split(args.modes)
        if not set(modes) <= set(MODES):
            raise TargetError(f"--modes takes {', '.join(MODES)}; got {args.modes!r}")
    except TargetError as exc:
        print(f"lstm-verify: {exc}", file=sys.stderr)
        return 2
    shapes = {n: SHAPES[n] for n in named}
    shapes.update({"custom " + ",".join(map(str, s)): s for s in args.shape})
    repeats, min_time = (3, 0.002) if args.quick else (args.repeats, args.min_time)
    device_list = _split(args.devices) if args.devices else devices()

    def progress(row: Row) -> None:
        if not args.quiet:
            what = f"{row.us_per_step:.4g} us/step" if row.status != "skipped" else f"skipped: {row.reason}"
            print(f"  {row.implementation} {row.shape} {row.device} {row.dtype} {row.mode}: {what}", file=sys.stderr)

    rows = run(subjects, shapes, device_list, _split(args.dtypes), modes, repeats, min_time,
               not args.no_baselines, progress)
    print(table(rows))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([r.as_dict() for r in rows], fh, indent=1)
    if args.plot:
        try:
            print("plot: " + ", ".join(plot(rows, args.plot)))
        except ImportError:
            print("plot: not drawn, matplotlib is not installed (pip install 'lstm-verify[bench]')")
    return 1 if any(r.status == "WRONG" for r in rows) else 0
