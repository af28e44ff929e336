"""Portable golden vectors (``lstm-verify export``): read back from npz and JSON as another language
would, they pass the NumPy adapter at the manifest's tolerances, equal the reference, come out
byte for byte the same on every run, and no wrong gate order, dropped bias or swapped state
matches them. The ONNX backend tests (``--format onnx``) pass onnx's checker, onnxruntime and
onnx's reference evaluator at their tolerances, and fail them in any other gate order."""

import hashlib
import json
import sys
import time
import zipfile
from dataclasses import replace
from itertools import permutations
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from lstm_verify import reference
from lstm_verify.adapters import builtin_adapter
from lstm_verify.cli import main
from lstm_verify.export import ARRAYS, CASES, DTYPES, EXPECTED, FORMATS, export
from lstm_verify.implementation import implementation
from lstm_verify.layouts import TORCH, WRONG_ORDERS, Layout
from lstm_verify.params import PARAM_NAMES, Params
from lstm_verify.targets import RUNTIMES

Arrays = dict[str, np.ndarray]
FILES = [(g.name, dtype, fmt) for g in CASES for dtype in DTYPES for fmt in ("npz", "json")]
FILE_IDS = [".".join(f) for f in FILES]
ONNX_TESTS = [f"test_lstm_verify_{g.name}_{dtype}" for g in CASES for dtype in DTYPES]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    directory = tmp_path_factory.mktemp("vectors")
    export(directory)
    return directory, json.loads((directory / "manifest.json").read_text())


def read(directory: Path, manifest: dict, case: str, dtype: str, fmt: str) -> Arrays:
    """A case file as a reader in another language sees it: arrays by name, in the file's dtype."""
    path = directory / manifest["cases"][case]["dtypes"][dtype][fmt]["file"]
    if fmt == "npz":
        with np.load(path) as npz:
            return {k: npz[k] for k in npz.files}
    doc = json.loads(path.read_text())
    assert (doc["case"], doc["dtype"]) == (case, dtype)
    return {k: np.array(a["data"], dtype=dtype).reshape(a["shape"]) for k, a in doc["arrays"].items()}


def params_of(arrays: Arrays) -> Params:
    return Params(**{n: arrays[n].astype(np.float64) for n in PARAM_NAMES})


def forward(p: Params, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray) -> Arrays:
    trace = reference.lstm_forward(p, xs, h0, c0)
    return {"hs": trace.hs, "h_T": trace.hs[-1], "c_T": trace.cs[-1]}


def excess(got: np.ndarray, want: np.ndarray, tol: dict[str, float]) -> float:
    """max |got - want| / (atol + rtol |want|): above 1 fails the manifest's comparison."""
    want = np.asarray(want, np.float64)
    return float(np.max(np.abs(np.asarray(got, np.float64) - want) / (tol["atol"] + tol["rtol"] * np.abs(want))))


def assert_matches(name: str, got: np.ndarray, want: np.ndarray, tol: dict[str, float]) -> None:
    __tracebackhide__ = True
    assert np.shape(got) == np.shape(want), f"{name}.shape={np.shape(got)}, but should be {np.shape(want)}"
    assert excess(got, want, tol) <= 1, (f"{name} is {excess(got, want, tol):.3g} x the allowed "
                                         f"|got - want| <= {tol['atol']:g} + {tol['rtol']:g} |want|")


def tree(directory: Path) -> list[str]:
    """Every file under ``directory``, as sorted relative paths."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


def dims(symbolic: str, sizes: dict[str, int]) -> tuple[int, ...]:
    """``"(4H, I)"`` with H=3, I=5 -> (12, 5)."""
    return tuple(int(d[:-1] or 1) * sizes[d[-1]] for d in symbolic.strip("()").replace(" ", "").split(",") if d)


def test_manifest_lists_every_file_with_its_sha256(exported):
    directory, manifest = exported
    listed = {e[fmt]["file"]: e[fmt]["sha256"] for case in manifest["cases"].values()
              for e in case["dtypes"].values() for fmt in ("npz", "json")}
    assert {p.name for p in directory.iterdir()} == {"manifest.json", *listed}
    for name, digest in listed.items():
        assert hashlib.sha256((directory / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.parametrize("case,dtype,fmt", FILES, ids=FILE_IDS)
def test_files_hold_the_documented_arrays_and_tolerances(exported, case, dtype, fmt):
    directory, manifest = exported
    entry = manifest["cases"][case]
    arrays = read(directory, manifest, case, dtype, fmt)
    tols = entry["dtypes"][dtype]["tolerances"]
    if fmt == "npz":
        assert {k: float(arrays.pop(f"tol_{k}")) for k in tols} == {k: t["atol"] for k, t in tols.items()}
    else:
        assert json.loads((directory / entry["dtypes"][dtype]["json"]["file"]).read_text())["tolerances"] == tols
    assert list(arrays) == list(manifest["arrays"]) == list(ARRAYS)
    assert set(tols) == set(EXPECTED) and all(t["rtol"] > 0 and t["atol"] > 0 for t in tols.values())
    sizes = {k: entry[k] for k in "TBIH"}
    for name, array in arrays.items():
        assert (array.dtype, array.shape) == (np.dtype(dtype), dims(ARRAYS[name], sizes)), name
    assert np.all(arrays["h0"] != 0) and np.all(arrays["c0"] != 0) and np.all(arrays["b_hh"] != 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [g.name for g in CASES])
def test_npz_and_json_hold_identical_values(exported, case, dtype):
    npz, js = (read(*exported, case, dtype, fmt) for fmt in ("npz", "json"))
    for name, array in js.items():
        np.testing.assert_array_equal(npz[name], array, err_msg=name, strict=True)


@pytest.mark.parametrize("case,dtype,fmt", FILES, ids=FILE_IDS)
def test_vectors_pass_the_numpy_adapter(exported, case, dtype, fmt):
    """What a C or Rust test does with the files, done with the kit's NumPy implementation."""
    a = read(*exported, case, dtype, fmt)
    impl = implementation("numpy", dtype)
    hs, (h_t, c_t) = impl.run(params_of(a), a["xs"], a["h0"], a["c0"])
    grads = impl.grads(params_of(a), a["xs"], a["h0"], a["c0"], a["gh"], a["gc"])
    got = {"hs": hs, "h_T": h_t, "c_T": c_t, **{f"grad_{n}": g for n, g in grads.items()}}
    for name, tol in exported[1]["cases"][case]["dtypes"][dtype]["tolerances"].items():
        assert_matches(name, got[name], a[name], tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [g.name for g in CASES])
def test_expectations_are_the_reference_on_the_stored_inputs_rounded(exported, case, dtype):
    a = read(*exported, case, dtype, "npz")
    inputs = {k: v.astype(np.float64) for k, v in a.items() if k in ("xs", "h0", "c0")}
    want = forward(params_of(a), **inputs)
    grads = reference.lstm_backward(params_of(a), **inputs, gh=a["gh"].astype(np.float64),
                                    gc=a["gc"].astype(np.float64))
    want.update({f"grad_{n}": g for n, g in grads.items()})
    for name, array in want.items():
        np.testing.assert_array_equal(a[name], array.astype(dtype), err_msg=name, strict=True)


def _reordered(p: Params, order: str) -> Params:
    """What an implementation whose gate blocks are in ``order`` makes of canonical parameters."""
    return Layout(f"order-{order}", gate_order=order).from_native(TORCH.to_native(p), p.input_size)


DEFECTS: dict[str, Callable[[Params, np.ndarray, np.ndarray, np.ndarray], Arrays]] = {
    **{f"order-{o}": lambda p, xs, h0, c0, o=o: forward(_reordered(p, o), xs, h0, c0) for o in WRONG_ORDERS},
    "b_hh-dropped": lambda p, xs, h0, c0: forward(replace(p, b_hh=np.zeros_like(p.b_hh)), xs, h0, c0),
    "b_ih-dropped": lambda p, xs, h0, c0: forward(replace(p, b_ih=np.zeros_like(p.b_ih)), xs, h0, c0),
    "h0-c0-swapped": lambda p, xs, h0, c0: forward(p, xs, c0, h0),
}


def test_defects_include_all_23_wrong_gate_orders():
    assert sum(name.startswith("order-") for name in DEFECTS) == len(WRONG_ORDERS) == 23


@pytest.mark.parametrize("defect", DEFECTS)
def test_no_wrong_gate_order_dropped_bias_or_swapped_state_matches(exported, defect):
    """Every case, in every dtype, misses the defect's outputs by over 1000 times its tolerance."""
    directory, manifest = exported
    for case, entry in manifest["cases"].items():
        for dtype, files in entry["dtypes"].items():
            a = read(directory, manifest, case, dtype, "npz")
            got = DEFECTS[defect](params_of(a), *(a[k].astype(np.float64) for k in ("xs", "h0", "c0")))
            worst = max(excess(got[k], a[k], files["tolerances"][k]) for k in got)
            assert worst > 1000, f"{defect} comes within {worst:.3g} x tolerance of {case}.{dtype}"


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_is_byte_for_byte_reproducible(tmp_path, monkeypatch, fmt):
    """Same bytes a day later, in either format, and no zip member records the clock or the
    writing platform."""
    if fmt == "onnx":
        pytest.importorskip("onnx")
    export(tmp_path / "first", fmt=fmt)
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 86400.0)
    export(tmp_path / "second", fmt=fmt)
    first = tree(tmp_path / "first")
    assert first == tree(tmp_path / "second")
    for name in first:
        assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "second" / name).read_bytes(), name
    for path in (tmp_path / "first").glob("*.npz"):
        with zipfile.ZipFile(path) as archive:
            assert {(m.date_time, m.create_system) for m in archive.infolist()} == {((1980, 1, 1, 0, 0, 0), 3)}


@pytest.fixture(scope="module")
def onnx_exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    pytest.importorskip("onnx")
    directory = tmp_path_factory.mktemp("onnx")
    export(directory, fmt="onnx")
    return directory, json.loads((directory / "manifest.json").read_text())


def read_onnx_test(directory: Path) -> tuple[Any, Arrays, Arrays]:
    """A backend-test directory as onnx's runner reads it: the model (checked), and ``input_<k>.pb``,
    ``output_<k>.pb`` as the k-th graph input and output, by name."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(directory / "model.onnx")
    onnx.checker.check_model(model, full_check=True)
    data = directory / "test_data_set_0"
    found = []
    for kind, infos in (("input", model.graph.input), ("output", model.graph.output)):
        assert len(list(data.glob(f"{kind}_*.pb"))) == len(infos)
        tensors = [onnx.load_tensor(data / f"{kind}_{k}.pb") for k in range(len(infos))]
        assert [t.name for t in tensors] == [v.name for v in infos]
        found.append({t.name: numpy_helper.to_array(t) for t in tensors})
    return model, *found


def onnx_run(runtime: str, model: Any, dtype: str) -> Callable[[Arrays], list[np.ndarray]]:
    """``model`` compiled by the kit's ``runtime`` adapter, or a skip when it cannot run ``dtype``."""
    adapter = builtin_adapter(runtime)
    if adapter.unavailable() or dtype not in adapter.dtypes:
        pytest.skip(adapter.unavailable() or f"{runtime} runs LSTM in {', '.join(adapter.dtypes)} only")
    return adapter.compile(model)


def test_onnx_tests_are_the_vectors_as_one_lstm_node(onnx_exported, exported):
    """One LSTM node at the highest opset defining it, inputs X, W, R, B, initial_h, initial_c (no
    sequence_lens), SHA-256s as listed, and the vectors' inputs and expectations with a direction axis."""
    from lstm_verify.adapters._onnx import OPSETS

    directory, manifest = onnx_exported
    assert manifest["opset"] == OPSETS[-1] and set(manifest["tests"]) == set(ONNX_TESTS)
    assert {p.name for p in directory.iterdir()} == {"manifest.json", *ONNX_TESTS}
    for test, entry in manifest["tests"].items():
        assert tree(directory / test) == sorted(entry["sha256"])
        for path, digest in entry["sha256"].items():
            assert hashlib.sha256((directory / test / path).read_bytes()).hexdigest() == digest, path
        model, inputs, outputs = read_onnx_test(directory / test)
        assert [o.version for o in model.opset_import] == [manifest["opset"]]
        assert list(model.graph.node[0].input) == ["X", "W", "R", "B", "", "initial_h", "initial_c"]
        a = read(*exported, entry["case"], entry["dtype"], "npz")
        for got, want in ((inputs["X"], a["xs"]), (inputs["initial_h"], a["h0"][None]),
                          (inputs["initial_c"], a["c0"][None]), (outputs["Y"], a["hs"][:, None]),
                          (outputs["Y_h"], a["h_T"][None]), (outputs["Y_c"], a["c_T"][None])):
            np.testing.assert_array_equal(got, want, strict=True)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("test", ONNX_TESTS)
def test_onnx_tests_pass_on_onnx_runtimes(onnx_exported, test, runtime):
    """What a backend-test harness does with a directory: its outputs match ``output_<k>.pb``
    within the manifest's tolerances."""
    directory, manifest = onnx_exported
    entry = manifest["tests"][test]
    model, inputs, outputs = read_onnx_test(directory / test)
    got = onnx_run(runtime, model, entry["dtype"])(inputs)
    for (name, want), value in zip(outputs.items(), got, strict=True):
        assert_matches(name, value, want, entry["tolerances"][name])


def test_onnx_loader_takes_each_tests_tolerance(onnx_exported):
    """onnx's own ``load_model_tests`` finds every directory and reads from its ``data.json`` the
    loosest of the manifest's per-output tolerances, not its defaults (rtol 1e-3, atol 1e-7)."""
    from onnx.backend.test.loader import load_model_tests

    directory, manifest = onnx_exported
    loaded = {case.name: case for case in load_model_tests(str(directory.parent), directory.name)}
    assert set(loaded) == set(manifest["tests"])
    for name, entry in manifest["tests"].items():
        tolerances = entry["tolerances"].values()
        assert (loaded[name].rtol, loaded[name].atol) == (max(t["rtol"] for t in tolerances),
                                                          max(t["atol"] for t in tolerances))


def permuted(inputs: Arrays, order: tuple[int, ...]) -> Arrays:
    """``inputs`` with the gate blocks of W, R and of both halves of B (Wb, Rb) in ``order``."""
    hidden = inputs["R"].shape[-1]

    def reorder(a: np.ndarray) -> np.ndarray:
        blocks = np.split(a, a.shape[1] // hidden, axis=1)
        return np.concatenate([blocks[4 * (k // 4) + order[k % 4]] for k in range(len(blocks))], axis=1)

    return {**inputs, **{k: reorder(inputs[k]) for k in ("W", "R", "B")}}


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("test", ONNX_TESTS)
def test_onnx_tests_catch_every_wrong_gate_order(onnx_exported, test, runtime):
    """Fed W, R and B with their gate blocks in any of the 23 other orders, each runtime misses
    the expected outputs by over 1000 times the tolerance."""
    directory, manifest = onnx_exported
    entry = manifest["tests"][test]
    model, inputs, outputs = read_onnx_test(directory / test)
    run = onnx_run(runtime, model, entry["dtype"])
    orders = [order for order in permutations(range(4)) if order != (0, 1, 2, 3)]
    for order in orders:
        got = run(permuted(inputs, order))
        worst = max(excess(g, w, entry["tolerances"][n]) for g, (n, w) in zip(got, outputs.items(), strict=True))
        assert worst > 1000, f"gate blocks in order {order} come within {worst:.3g} x tolerance of {test}"
    assert len(orders) == 23


def test_cli_export_writes_the_dtypes_asked_for(tmp_path, capsys):
    assert main(["export", str(tmp_path / "out"), "--dtypes", "float32"]) == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert all(list(case["dtypes"]) == ["float32"] for case in manifest["cases"].values())
    assert len(list((tmp_path / "out").iterdir())) == 2 * len(CASES) + 1
    assert "wrote 4 cases x 1 dtypes" in capsys.readouterr().out


def test_cli_export_default_is_every_dtype(tmp_path):
    assert main(["export", str(tmp_path)]) == 0
    assert len(list(tmp_path.glob("*.npz"))) == len(CASES) * len(DTYPES)


def test_cli_export_rejects_an_unknown_dtype_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["export", str(tmp_path), "--dtypes", "float32,float16"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "unknown dtype 'float16'" in err and len(err.strip().splitlines()) == 1


def test_cli_export_format_onnx_writes_the_test_directories(tmp_path, capsys):
    pytest.importorskip("onnx")
    assert main(["export", "--format", "onnx", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["manifest.json", *ONNX_TESTS])
    assert all((tmp_path / test / "model.onnx").is_file() for test in ONNX_TESTS)
    assert "wrote 4 cases x 2 dtypes (ONNX backend-test directories)" in capsys.readouterr().out


def test_cli_export_rejects_an_unknown_format_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["export", "--format", "tflite", str(tmp_path)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "--format" in err and "tflite" in err and len(err.strip().splitlines()) == 1


def test_cli_export_format_onnx_without_onnx_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert main(["export", "--format", "onnx", str(tmp_path)]) == 2
    assert "--format onnx needs the onnx extra" in capsys.readouterr().err


def test_cli_export_will_not_mix_formats_in_one_folder(tmp_path, capsys):
    """The second format's manifest.json would replace the first's: one line, exit 2, nothing
    overwritten; the same format again is a refresh."""
    assert main(["export", str(tmp_path), "--dtypes", "float32"]) == 0
    before = (tmp_path / "manifest.json").read_bytes()
    assert main(["export", "--format", "onnx", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "holds a vectors export" in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "manifest.json").read_bytes() == before
    assert main(["export", str(tmp_path), "--dtypes", "float32"]) == 0
