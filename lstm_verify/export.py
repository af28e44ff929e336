"""Portable golden vectors: a few gate-asymmetric LSTM cases, their expected outputs and gradients.

``export(directory)`` writes, per case and dtype, ``<case>.<dtype>.npz`` and the same data as
``<case>.<dtype>.json``, plus ``manifest.json`` (equations, layout, shapes, tolerances, SHA-256
of every file), so that implementations outside Python can be checked. The schema is in the
README, "Portable vectors". Runs give the same bytes: fixed seeds, key order, zip timestamps and
platform field (another BLAS may change the last bits of an expectation, well within tolerance).
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
from lstm_verify.params import GATES, PARAM_NAMES, Case, Grads, Params

SCHEMA_VERSION = 1
DTYPES: tuple[str, ...] = ("float64", "float32")
"""The dtypes exported: those every language has."""

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


def export(directory: str | Path, dtypes: Sequence[str] = DTYPES) -> dict[str, Any]:
    """Write every case of :data:`CASES` in each of ``dtypes`` and ``manifest.json`` to
    ``directory`` (created if missing); returns the manifest."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    cases = {golden.name: {"note": golden.note, "from": repr(golden.case), "T": golden.case.steps,
                           "B": golden.case.batch, "I": golden.case.input_size, "H": golden.case.hidden_size,
                           "dtypes": {dtype: _write(out, golden, dtype) for dtype in dtypes}}
             for golden in CASES}
    manifest = {"schema_version": SCHEMA_VERSION, "kit": f"lstm_verify {__version__}", "equations": EQUATIONS,
                "loss": LOSS, "layout": LAYOUT, "arrays": ARRAYS, "gate_offsets": dict(zip(GATES, GATE_OFFSETS)),
                "comparison": COMPARISON, "cases": cases}
    (out / "manifest.json").write_bytes((json.dumps(manifest, indent=1) + "\n").encode())
    return manifest
