"""Portable golden vectors: a few gate-asymmetric LSTM cases, their expected outputs and gradients.

``export(directory)`` writes, per case and dtype, ``<case>.<dtype>.npz`` and the same data as
``<case>.<dtype>.json``, plus ``manifest.json`` (equations, layout, shapes, tolerances, SHA-256
of every file), so that implementations outside Python can be checked. The schema is in the
README, "Portable vectors". Runs give the same bytes: fixed seeds, key order, zip timestamps and
platform field (another BLAS may change the last bits of an expectation, well within tolerance).

``export(directory, fmt="onnx")`` writes the same cases instead as ONNX backend-test directories
(``test_lstm_verify_<case>_<dtype>/model.onnx`` and ``test_data_set_0/{input,output}_<k>.pb``, laid
out as onnx's own node tests), the forward pass only, with ``manifest.json`` giving the opset and
each test's tolerances per output, and each test's ``data.json`` the loosest of them, which onnx's
``load_model_tests`` applies instead of its defaults.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lstm_verify import __version__, error_model, reference
from lstm_verify.dtypes import unit_roundoff
from lstm_verify.layouts import ONNX
from lstm_verify.params import GATES, PARAM_NAMES, Case, Grads, Params
from lstm_verify.reference import PLAIN

SCHEMA_VERSION = 1
DTYPES: tuple[str, ...] = ("float64", "float32")
"""The dtypes exported: those every language has."""
FORMATS = ("vectors", "onnx")
"""``vectors``: npz and JSON files; ``onnx``: ONNX backend-test directories (needs onnx)."""

GATE_OFFSETS = (0.5, 1.5, -0.5, -1.0)
"""Added to the i, f, g, o blocks of ``b_ih``: every permutation of the blocks moves the pre-activations."""

EQUATIONS = (
    "z = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh; blocks of z (H rows each): z_i, z_f, z_g, z_o",
    "i = sigmoid(z_i), f = sigmoid(z_f), g = tanh(z_g), o = sigmoid(z_o)",
    "c_t = f * c_{t-1} + i * g",
    "h_t = o * tanh(c_t)",
)
LOSS = "L = sum_t <gh_t, h_t> + <gc, c_T>"
LAYOUT = {"gate_order": GATES,
          "blocks": "gate block k (i, f, g, o) is rows k*H .. (k+1)*H - 1 of w_ih, w_hh, b_ih, b_hh",
          "weights": "(out, in), as torch stores them: z = x @ w_ih.T + h @ w_hh.T + b_ih + b_hh for x (B, I)"}
ARRAYS = {
    "w_ih": "(4H, I)", "w_hh": "(4H, H)", "b_ih": "(4H,)", "b_hh": "(4H,)",
    "xs": "(T, B, I)", "h0": "(B, H)", "c0": "(B, H)", "gh": "(T, B, H)", "gc": "(B, H)",
    "hs": "(T, B, H)", "h_T": "(B, H)", "c_T": "(B, H)",
    "grad_x": "(T, B, I)", "grad_h0": "(B, H)", "grad_c0": "(B, H)",
    "grad_w_ih": "(4H, I)", "grad_w_hh": "(4H, H)", "grad_b_ih": "(4H,)", "grad_b_hh": "(4H,)",
}
"""The data arrays of a case file, in file order, with their shapes; ``grad_*`` are dL/d(that input)."""
COMPARISON = "|got - want| <= atol + rtol * |want| elementwise (numpy.allclose), for each expected array"
EXPECTED = ("hs", "h_T", "c_T", *(f"grad_{f.name}" for f in fields(Grads) if f.name != "p"))
"""The expected arrays of a case file."""
ONNX_LAYOUT = {
    "node": "one LSTM, direction forward, layout 0, hidden_size H, no sequence_lens (its input name empty)",
    "inputs": "X (T, B, I), W (1, 4H, I), R (1, 4H, H), B (1, 8H) = [Wb | Rb], initial_h, initial_c (1, B, H)",
    "outputs": "Y (T, 1, B, H), Y_h, Y_c (1, B, H)",
    "gate_order": "ONNX's i, o, f, c (c is g): W, R, Wb, Rb are w_ih, w_hh, b_ih, b_hh with their blocks reordered",
    "gate_check": "b_ih (Wb) carries gate_offsets: a runtime reading the blocks in any other order misses the outputs",
}
ONNX_OUTPUTS = {"Y": "hs", "Y_h": "h_T", "Y_c": "c_T"}
"""The node's outputs and the expected arrays they hold (with a direction axis)."""


@dataclass(frozen=True)
class Golden:
    """One exported case: a name, the :class:`Case` its arrays derive from, and why it is there."""

    name: str
    case: Case
    note: str


CASES = (
    Golden("basic", Case(batch=3, input_size=5, hidden_size=4, steps=4, seed=101), "I != H, B > 1"),
    Golden("batch_one", Case(batch=1, input_size=3, hidden_size=6, steps=3, seed=102), "B = 1, I < H"),
    Golden("one_step", Case(batch=2, input_size=4, hidden_size=3, steps=1, seed=103), "T = 1"),
    Golden("long", Case(batch=2, input_size=3, hidden_size=5, steps=40, seed=104), "a longer sequence"),
)


def inputs(golden: Golden) -> dict[str, np.ndarray]:
    """The case's float64 inputs: parameters (with :data:`GATE_OFFSETS`), xs, h0, c0, gh, gc."""
    params, xs, h0, c0 = golden.case.arrays()
    gh, gc = golden.case.loss_weights()
    b_ih = params.b_ih + np.repeat(GATE_OFFSETS, params.hidden_size)
    return {**dict(params.items()), "b_ih": b_ih, "xs": xs, "h0": h0, "c0": c0, "gh": gh, "gc": gc}


def _rounded(golden: Golden, dtype: str) -> tuple[dict[str, np.ndarray], Params, tuple[np.ndarray, ...]]:
    """The inputs rounded to ``dtype``, and as float64 parameters and (xs, h0, c0, gh, gc)."""
    given = {k: np.asarray(v, dtype) for k, v in inputs(golden).items()}
    exact = {k: v.astype(np.float64) for k, v in given.items()}
    return given, Params(**{n: exact[n] for n in PARAM_NAMES}), tuple(exact[k] for k in ("xs", "h0", "c0", "gh", "gc"))


def _outputs(hs: np.ndarray, cs: np.ndarray, grads: Grads) -> dict[str, np.ndarray]:
    return dict(zip(EXPECTED, (hs, hs[-1], cs[-1], *(g for _, g in grads.items()))))


def golden_arrays(golden: Golden, dtype: str) -> dict[str, np.ndarray]:
    """Inputs rounded to ``dtype``, and the expectations computed in float64 from exactly those
    values, then rounded to ``dtype``."""
    given, params, (xs, h0, c0, gh, gc) = _rounded(golden, dtype)
    trace = reference.lstm_forward(params, xs, h0, c0)
    expected = _outputs(trace.hs, trace.cs, reference.lstm_backward(params, xs, h0, c0, gh, gc))
    return {**given, **{k: np.asarray(v, dtype) for k, v in expected.items()}}


def tolerances(golden: Golden, dtype: str) -> dict[str, dict[str, float]]:
    """``{expected array: {"rtol", "atol"}}``: atol the largest error bound of
    :mod:`lstm_verify.error_model` over the array (IEEE arithmetic in ``dtype``), rtol the
    rounding of the stored expectation to ``dtype``."""
    _, params, (xs, h0, c0, gh, gc) = _rounded(golden, dtype)
    forward = error_model.forward_bounds(params, xs, h0, c0, dtype)
    grads = error_model.gradient_bounds(params, xs, h0, c0, gh, gc, dtype)
    bounds = _outputs(forward.hs, forward.cs, grads)
    return {n: {"rtol": unit_roundoff(dtype), "atol": float(b.max())} for n, b in bounds.items()}


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An uncompressed ``.npz`` as ``numpy.savez`` writes it, but with fixed timestamps and platform
    field, little-endian members and no zip64 extras (which some minimal zip readers lack)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(array, array.dtype.newbyteorder("<"), order="C"))
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system = 3  # the Unix value, whatever the platform writing it
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def json_bytes(golden: Golden, dtype: str, arrays: dict[str, np.ndarray],
               tols: dict[str, dict[str, float]]) -> bytes:
    """The same data as JSON: nested lists of numbers, each the shortest decimal that parses back
    (as a double, or for float32 files as a float) to exactly the stored value."""
    doc = {"schema_version": SCHEMA_VERSION, "case": golden.name, "dtype": dtype, "tolerances": tols,
           "arrays": {k: {"shape": list(v.shape), "data": v.tolist()} for k, v in arrays.items()}}
    return (json.dumps(doc) + "\n").encode()


def _write(out: Path, golden: Golden, dtype: str) -> dict[str, Any]:
    """Write one case in one dtype as npz and JSON; its manifest entry."""
    arrays, tols = golden_arrays(golden, dtype), tolerances(golden, dtype)
    npz = npz_bytes({**arrays, **{f"tol_{k}": np.asarray(t["atol"]) for k, t in tols.items()}})
    entry: dict[str, Any] = {}
    for fmt, data in (("npz", npz), ("json", json_bytes(golden, dtype, arrays, tols))):
        name = f"{golden.name}.{dtype}.{fmt}"
        (out / name).write_bytes(data)
        entry[fmt] = {"file": name, "sha256": hashlib.sha256(data).hexdigest()}
    return {**entry, "tolerances": tols}


def _write_onnx(out: Path, golden: Golden, dtype: str, opset: int) -> tuple[str, dict[str, Any]]:
    """Write one case in one dtype as an ONNX backend-test directory: its name and manifest entry."""
    from onnx import numpy_helper

    from lstm_verify.adapters._onnx import lstm_graph, onnx_params

    arrays = golden_arrays(golden, dtype)
    params = Params(**{n: arrays[n] for n in PARAM_NAMES})
    values = {"X": arrays["xs"], **onnx_params([ONNX.to_native(params, dtype)]), "initial_h": arrays["h0"][None],
              "initial_c": arrays["c0"][None], "Y": arrays["hs"][:, None], "Y_h": arrays["h_T"][None],
              "Y_c": arrays["c_T"][None]}
    model = lstm_graph(dtype, params.hidden_size, opset, 0, "forward", PLAIN, ("B", "initial_h", "initial_c"),
                       {k: v.shape for k, v in values.items()})
    tols = {k: tolerances(golden, dtype)[v] for k, v in ONNX_OUTPUTS.items()}
    loose = {t: max(tol[t] for tol in tols.values()) for t in ("rtol", "atol")}  # onnx's loader takes one pair
    files = {"model.onnx": model.SerializeToString(), "data.json": (json.dumps(loose) + "\n").encode()}
    for kind, infos in (("input", model.graph.input), ("output", model.graph.output)):
        files.update({f"test_data_set_0/{kind}_{k}.pb": numpy_helper.from_array(values[v.name], v.name)
                      .SerializeToString() for k, v in enumerate(infos)})
    name = f"test_lstm_verify_{golden.name}_{dtype}"
    (out / name / "test_data_set_0").mkdir(parents=True, exist_ok=True)
    for path, data in files.items():
        (out / name / path).write_bytes(data)
    return name, {"case": golden.name, "dtype": dtype, "tolerances": tols,
                  "sha256": {path: hashlib.sha256(data).hexdigest() for path, data in files.items()}}


def _onnx(out: Path, dtypes: Sequence[str]) -> dict[str, Any]:
    """Write the ONNX backend-test directories; the manifest."""
    import onnx

    opset = onnx.defs.get_schema("LSTM").since_version  # the highest opset of this onnx defining LSTM
    tests = dict(_write_onnx(out, golden, dtype, opset) for golden in CASES for dtype in dtypes)
    return {"schema_version": SCHEMA_VERSION, "kit": f"lstm_verify {__version__}", "format": "onnx",
            "opset": opset, "layout": ONNX_LAYOUT, "gate_offsets": dict(zip(GATES, GATE_OFFSETS)),
            "comparison": COMPARISON, "tests": tests}


def _vectors(out: Path, dtypes: Sequence[str]) -> dict[str, Any]:
    """Write the npz and JSON files; the manifest."""
    cases = {golden.name: {"note": golden.note, "from": repr(golden.case), "T": golden.case.steps,
                           "B": golden.case.batch, "I": golden.case.input_size, "H": golden.case.hidden_size,
                           "dtypes": {dtype: _write(out, golden, dtype) for dtype in dtypes}}
             for golden in CASES}
    return {"schema_version": SCHEMA_VERSION, "kit": f"lstm_verify {__version__}", "equations": EQUATIONS,
            "loss": LOSS, "layout": LAYOUT, "arrays": ARRAYS, "gate_offsets": dict(zip(GATES, GATE_OFFSETS)),
            "comparison": COMPARISON, "cases": cases}


class FormatClash(Exception):
    """The folder holds an export of the other format; the message is one line for the user."""


def export(directory: str | Path, dtypes: Sequence[str] = DTYPES, fmt: str = "vectors") -> dict[str, Any]:
    """Write every case of :data:`CASES` in each of ``dtypes``, in format ``fmt`` (of
    :data:`FORMATS`), and ``manifest.json`` to ``directory`` (created if missing); returns the manifest."""
    out = Path(directory)
    previous = out / "manifest.json"
    if previous.is_file():
        found = json.loads(previous.read_text()).get("format", "vectors")
        if found != fmt:
            raise FormatClash(f"{directory} holds a {found} export: its manifest.json would be overwritten "
                              f"by the {fmt} one; export each format to its own folder")
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"vectors": _vectors, "onnx": _onnx}[fmt](out, dtypes)
    (out / "manifest.json").write_bytes((json.dumps(manifest, indent=1) + "\n").encode())
    return manifest
