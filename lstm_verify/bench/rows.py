"""Rows: each implementation timed at each shape, device, dtype and mode, its output checked
against the float64 reference (:mod:`lstm_verify.agreement`), with peak fractions and baseline
ratios."""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Iterable

from lstm_verify import agreement
from lstm_verify.adapters import Adapter, builtin_adapter
from lstm_verify.bench.hardware import Unavailable
from lstm_verify.bench.runners import Runner, make_runner
from lstm_verify.bench.shapes import BASELINES, MODES, Shape, flops_per_step
from lstm_verify.bench.timing import matmul_peak, time_call
from lstm_verify.checks import LawViolation
from lstm_verify.implementation import Implementation
from lstm_verify.reference import Variant


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


KNOWN = "known difference: "
"""How :func:`check_agreement` begins a row's agreement that a known difference names."""

EXPECTED = {"step": agreement.step_expected, "forward": agreement.sequence_expected,
            "forward_backward": agreement.gradients_expected}
"""The reference's outputs of each mode (:mod:`lstm_verify.agreement`), in the implementation's
cell for step and forward (an ONNX node's clip, activations, ...)."""


LAWS = {"step": "test_step_agrees_with_reference", "forward": "test_sequence_agrees_with_reference",
        "forward_backward": "test_gradients_agree_with_bptt"}
"""The law whose claim each mode's check is: the adapter's known differences for it apply."""


def check_agreement(runner: Runner, mode: str, raw: Any, adapter: Adapter, dtype: str) -> str:
    """Check the timed call's output against the float64 reference: "ok", "known difference: ..."
    (the time stands: one of the adapter's known differences for the mode's law names the violation,
    or computes a cell, :attr:`~lstm_verify.expected.Expected.computes`, the output agrees with), or
    what is wrong."""
    impl = Implementation(adapter, dtype)
    violation = _violation(runner, mode, raw, impl)
    if not violation:
        return "ok"
    for known in adapter.known_differences(dtype):
        if not known.in_force(LAWS[mode], impl.id):
            continue
        if known.matches_violation(violation) or (
                known.computes and not _violation(runner, mode, raw, Implementation(_computing(adapter, known.computes),
                                                                                     dtype))):
            return f"{KNOWN}{known.reason}"
    return violation


def _computing(adapter: Adapter, variant: Variant) -> Adapter:
    """``adapter`` declaring ``variant`` as its cell (a known difference's :attr:`Expected.computes`)."""
    twin = copy.copy(adapter)
    twin.capabilities = replace(adapter.capabilities, variant=variant)
    return twin


def _violation(runner: Runner, mode: str, raw: Any, impl: Implementation) -> str:
    """How the timed call's output departs from the reference in ``impl``'s cell, or ''."""
    try:
        agreement.outputs_agree(runner.outputs(mode, raw), EXPECTED[mode](impl, runner.problem.case), impl,
                                f"bench {mode}")
    except LawViolation as exc:
        return str(exc)
    except KeyError as exc:
        return f"not checked: no tolerance or output for {exc}"
    return ""


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
            row.agreement = check_agreement(runner, row.mode, timing.output, adapter, dtype)
        except Exception as exc:  # a crash in the implementation is a result of the row, not of the run
            _skip(row, f"{type(exc).__name__}: {exc}")
            continue
        per_step = timing.median / (1 if row.mode == "step" else shape.steps)
        row.us_per_step, row.spread = per_step * 1e6, timing.spread
        row.repeats, row.number, row.first_call_s = timing.repeats, timing.number, timing.first_call
        row.flops_per_step = flops_per_step(shape, row.mode)
        row.gflops = row.flops_per_step / per_step / 1e9
        if row.agreement != "ok" and not row.agreement.startswith(KNOWN):
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
            agreement.forget()  # this shape's reference runs are large: hold one shape's at a time
    add_peaks(rows, peaks)
    add_ratios(rows)
    return rows
