"""The conformance table (``lstm-verify matrix``): deployment columns x features, each cell what a
run's results say of the laws that measure that feature (:data:`FEATURES`, the one mapping).

A cell is ``pass`` (every check of its laws passed), ``known`` (an expected failure happened: a
known difference, with the upstream reference its reason names), ``FAIL`` (a law failed or
crashed, or an expected failure did not happen), or ``n/s`` (not supported: every check skipped,
with the implementation's message: a feature's cell reads the dtypes the column runs at, a dtype's
cell the sequence law at that dtype); a note under the table gives each reason, and the standalone
reproduction ``docs/repro/<column>_lstm.py`` of a disagreement where there is one. A column none
of whose checks ran is listed as not measured. ``docs/conformance.md`` holds the table between
:data:`START` and :data:`END`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from lstm_verify.laws import replace_table
from lstm_verify.results import CHECKED, Result
from lstm_verify.targets import RUNTIMES

START, END = "<!-- conformance:table -->", "<!-- /conformance:table -->"
COLUMNS = (*RUNTIMES, "torch-onnx", "torch-onnx-dynamo", "tf-block", "tf-block-via-tf2onnx", "litert", "litert-fused",
           "litert-int8-weights", "keras-tensorflow-via-tf2onnx", "keras-tensorflow-via-tflite")
"""The deployment columns: every built-in ONNX runtime, the exporters and converters, TF's fused cell,
LiteRT's two converted forms and its int8 weights, a Keras layer through tf2onnx and through LiteRT's
converter."""
DTYPES = ("float32", "float64", "float16", "bfloat16")
REPRO = Path(__file__).parents[1] / "docs" / "repro"
UPSTREAM = re.compile(r"\b([\w.-]+/[\w.-]+)#(\d+)")
"""An upstream issue named in a reason: ``microsoft/onnxruntime#27224``."""


@dataclass(frozen=True)
class Feature:
    """One column of the table: what it covers and the laws whose results measure it."""

    group: str
    name: str
    laws: tuple[str, ...]
    dtype: str | None = None
    """Only the results at this dtype (the dtype features); None: every dtype the run has."""


SEQUENCE = "test_sequence_agrees_with_reference"
FEATURES: tuple[Feature, ...] = (
    Feature("direction", "forward", (SEQUENCE,)),
    Feature("direction", "reverse", ("test_reverse_equals_forward_on_reversed_input",)),
    Feature("direction", "bidirectional", ("test_bidirectional",)),
    Feature("layout", "batch-major", ("test_batch_major_equals_time_major",)),
    Feature("sequence lengths", "per row", ("test_variable_lengths",)),
    Feature("initial state", "omitted = zeros", ("test_default_state_is_zeros",)),
    Feature("initial state", "carried (streaming)", ("test_streaming_equals_whole",)),
    Feature("cell state", "unbounded (carousel)", ("test_exact_cec_carry",)),
    Feature("opsets", "7, 14, 22", ("test_every_opset_agrees_with_reference",)),
    Feature("peepholes", "P", ("test_peepholes_agree_with_reference", "test_peephole_order")),
    Feature("clip", "spec reading", ("test_clip_agrees_with_reference",)),
    Feature("activations", "overridden", ("test_activations_agree_with_reference",)),
    Feature("input_forget", "coupled", ("test_coupled_gates_agree_with_reference",)),
    *(Feature("dtype", dtype, (SEQUENCE,), dtype) for dtype in DTYPES),
)
"""The feature -> law mapping: the one place it is written."""
LAWS = tuple(dict.fromkeys(law for f in FEATURES for law in f.laws))


def split(implementation: str) -> tuple[str, str]:
    """``('onnxruntime', 'float32')`` of ``'onnxruntime-float32'``."""
    column, _, dtype = implementation.rpartition("-")
    return column, dtype


def cell(results: list[Result]) -> tuple[str, list[str]]:
    """The cell's word and its reasons: the worst of ``results`` (FAIL, known, pass, n/s)."""
    failing = [r for r in results if r.status in ("failed", "crashed", "xpassed")]
    if failing:
        return "FAIL", [f"{r.property}[{r.implementation}]: {r.reason}" for r in failing]
    known = [r for r in results if r.status == "xfailed"]
    if known:
        return "known", list(dict.fromkeys(f"{r.property}: {r.reason}" for r in known))
    if any(r.status == "passed" for r in results):
        return "pass", []
    return "n/s", list(dict.fromkeys(r.reason for r in results))


def _link(reason: str) -> str:
    """``reason`` with each upstream reference as a link to its GitHub issue."""
    return UPSTREAM.sub(lambda m: f"[{m[0]}](https://github.com/{m[1]}/issues/{m[2]})", reason)


def render(results: list[Result]) -> str:
    """The Markdown table of :data:`COLUMNS` x :data:`FEATURES` from ``results``, its notes below it;
    links are relative to ``docs/``."""
    by_column: dict[str, list[Result]] = {}
    for r in results:
        column, dtype = split(r.implementation)
        if column in COLUMNS and r.property in LAWS:
            by_column.setdefault(column, []).append(r)
    heads = [f"{f.group}: {f.name}" for f in FEATURES]
    rows = ["| column | " + " | ".join(heads) + " |", "|---" * (len(heads) + 1) + "|"]
    notes: dict[str, int] = {}
    unmeasured = []
    for column in COLUMNS:
        mine = by_column.get(column, [])
        if not any(r.status in CHECKED for r in mine):
            unmeasured.append(f"`{column}`: {mine[0].reason if mine else 'not in this run'}")
            continue
        repro = REPRO / f"{column.replace('-', '_')}_lstm.py"
        runs = {split(r.implementation)[1] for r in mine if r.status in CHECKED}  # the dtypes it runs at
        cells = []
        for feature in FEATURES:
            word, reasons = cell([r for r in mine if r.property in feature.laws
                                  and split(r.implementation)[1] in ((feature.dtype,) if feature.dtype else runs)])
            if word in ("FAIL", "known") and repro.exists():
                reasons.append(f"standalone reproduction: [docs/repro/{repro.name}](repro/{repro.name})")
            marks = [notes.setdefault(reason, len(notes) + 1) for reason in reasons]
            cells.append(word + "".join(f" [{n}]" for n in marks))
        rows.append(f"| `{column}` | " + " | ".join(cells) + " |")
    lines = ["\n".join(rows), ""]
    lines += [f"{n}. {_link(reason)}".replace("\n", " ") for reason, n in notes.items()]
    if unmeasured:
        lines += ["", "Not measured in this run: " + "; ".join(unmeasured) + "."]
    return "\n".join(lines)


def read(path: str | Path) -> list[Result]:
    """The results a ``--json`` report holds."""
    return [Result(**record) for record in json.loads(Path(path).read_text())]


def write(path: str | Path, results: list[Result]) -> None:
    """Regenerate the table inside the file at ``path``."""
    path = Path(path)
    path.write_text(replace_table(path.read_text(), render(results), START, END))
