"""``--device``, and what a newcomer meets first: every framework's spelling read in one place, the
column that names its device, a device the machine lacks in one line from each front end, a
TARGET given as the wrong kind (or whose kind's library is missing) told which kind it looks like,
and the frameworks' native start-up logs kept out of a run's output."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import properties
from lstm_verify import check_impl
from lstm_verify.cli import _parser, main
from lstm_verify.config import options_from_env, reproducer
from lstm_verify.devices import Device, DeviceError, parse_device
from lstm_verify.implementation import Implementation
from lstm_verify.report.text import matrix
from lstm_verify.results import Result
from lstm_verify.runner import without_native_noise
from lstm_verify.targets import TargetError, adapter_for, looks_like, target_adapter
from tests.catalogue import HERE
from tests.catalogue.numpy_steps import step as numpy_step

CELL = f"{HERE}/torch_cells.py:HandWrittenCell"
NO_CUDA = "torch sees no CUDA device on this machine"


@pytest.mark.parametrize("spec, framework, named, label", [
    (None, "torch", "cpu", ""), ("cpu", "torch", "cpu", ""), ("CPU:0", "torch", "cpu", ""),
    ("cuda", "torch", "cuda:0", "cuda"), ("cuda:1", "torch", "cuda:1", "cuda1"), ("gpu", "torch", "cuda:0", "cuda"),
    ("gpu", "jax", "gpu:0", "gpu"), ("cuda:2", "jax", "gpu:2", "gpu2"), ("cpu", "jax", "cpu", ""),
    ("GPU:0", "tensorflow", "/GPU:0", "gpu"), ("/device:GPU:1", "tensorflow", "/GPU:1", "gpu1"),
    ("cpu", "tensorflow", "/CPU:0", ""), ("cpu", None, "cpu", ""),
])
def test_every_frameworks_spelling_names_one_device(spec, framework, named, label):
    device = parse_device(spec, framework)
    assert (device.spec, device.label) == (named, label)


@pytest.mark.parametrize("spec, framework, message", [
    ("tpu", "torch", "--device tpu: not a device; cpu, cuda or cuda:N (torch)"),
    ("cpu:1", "jax", "--device cpu:1: there is one CPU device"),
    ("cuda", None, "--device cuda: --kind numpy-step runs on the CPU only"),
])
def test_a_device_no_framework_spells_or_the_kind_cannot_use_is_refused(spec, framework, message):
    with pytest.raises(DeviceError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        parse_device(spec, framework, "numpy-step")


def test_the_cpu_asked_for_explicitly_runs_the_laws_under_the_plain_column_name():
    """``--device cpu`` (each framework's spelling) is the default: the same column, the same laws."""
    pytest.importorskip("torch")
    impl = Implementation(target_adapter(CELL, "torch-cell", device="cpu"), "float64")
    assert impl.id == "HandWrittenCell-float64" and impl.adapter.device == "cpu"
    for law in ("test_gate_order", "test_step_agrees_with_reference", "test_gradients_agree_with_bptt"):
        properties.collect()[law](impl=impl)


def test_a_jax_step_on_the_cpu_asked_for_explicitly_passes():
    pytest.importorskip("jax")
    impl = Implementation(target_adapter(f"{HERE}/jax_steps.py:step", "jax-step", device="cpu"), "float32")
    assert impl.id == "step-float32" and impl.adapter.fns.device == "cpu"
    properties.collect()["test_step_agrees_with_reference"](impl=impl)


def test_an_accelerators_column_names_it_and_declares_the_precision_the_kit_sets(monkeypatch):
    """On CUDA the kit turns TF32 off: a torch cell is IEEE, a subclass of nn.LSTM that keeps its
    forward is cuDNN's LSTM (approximate float32 activations), a looped LSTM of one's own IEEE."""
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(Device, "missing", lambda self: None)  # as on a machine with two GPUs
    cell = adapter_for(torch.nn.LSTMCell, "torch-cell", name="my_cell", device="cuda:1")
    assert (Implementation(cell, "float16").id, cell.device) == ("my_cell-cuda1-float16", "cuda:1")
    assert cell.precision("float32") == "ieee"

    class CudnnLSTM(torch.nn.LSTM):
        pass
    from tests.catalogue.torch_lstms import LoopedLSTM
    assert adapter_for(CudnnLSTM, "torch-lstm", device="cuda").precision("float32") == "approximate-activations"
    assert adapter_for(CudnnLSTM, "torch-lstm", device="cuda").precision("float64") == "ieee"
    assert adapter_for(CudnnLSTM, "torch-lstm", device="cpu").precision("float32") == "ieee"
    assert adapter_for(LoopedLSTM, "torch-lstm", device="cuda").precision("float32") == "ieee"


def test_an_absent_device_is_one_line_in_every_front_end(capsys, monkeypatch):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["check", CELL, "--device", "cuda", "--dtypes", "float32", "-k", "gate_order", "--quiet"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"lstm-verify: --device cuda: {NO_CUDA}"]
    with pytest.raises(TargetError, match=f"^--device cuda: {NO_CUDA}$"):
        check_impl(CELL, "torch-cell", device="cuda", dtypes=["float32"])
    monkeypatch.setenv("LSTM_VERIFY_DEVICE", "cuda:0")  # the environment is read by check_impl too
    with pytest.raises(TargetError, match=f"^--device cuda:0: {NO_CUDA}$"):
        check_impl(CELL, "torch-cell", dtypes=["float32"])
    run = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", "properties.test_gates", "-k", "gate_order",
                          "-p", "no:cacheprovider", "--lstm-impl", CELL, "--lstm-device", "cuda"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 4 and f"--device cuda: {NO_CUDA}" in run.stderr, run.stdout[-2000:] + run.stderr


def test_every_front_end_reads_the_option(monkeypatch):
    assert _parser().parse_args(["check", CELL, "--device", "GPU:0"]).device == "GPU:0"
    monkeypatch.setenv("LSTM_VERIFY_DEVICE", "cuda")
    assert _parser().parse_args(["check", CELL]).device == "cuda"
    options = options_from_env(impl=CELL)
    assert options.device == "cuda"
    assert "--lstm-device cuda" in reproducer(options, "properties.test_gates::test_gate_order[x-float32]")


def test_device_without_a_target_or_for_a_cpu_kind_exits_2_before_the_run(capsys):
    assert main(["check", "--device", "cuda"]) == 2
    assert main(["check", f"{HERE}/numpy_steps.py:step", "--kind", "numpy-step", "--device", "gpu"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("lstm-verify: --device takes a TARGET")
    assert err[1] == "lstm-verify: --device gpu: --kind numpy-step runs on the CPU only"


@pytest.mark.parametrize("target, kind, says", [
    ("jax_steps.py:step", "torch-cell", "looks like --kind jax-step (step(params, x, (h, c)) -> (h, c) on JAX "
                                        "arrays, params a dict), not --kind torch-cell (the default): pass --kind "
                                        "jax-step"),
    ("tf_steps.py:step", "jax-step", "looks like --kind tf-step"),
    ("jax_steps.py:step", "tf-step", "looks like --kind jax-step"),
])
def test_a_target_of_another_framework_is_told_its_kind(target, kind, says):
    pytest.importorskip("tensorflow" if target.startswith("tf") else "jax")
    with pytest.raises(TargetError, match=says.replace("(", r"\(").replace(")", r"\)")):
        target_adapter(f"{HERE}/{target}", kind)


def test_an_onnx_file_without_kind_onnx_is_told_to_use_it(capsys):
    assert main(["check", "model.onnx"]) == 2
    assert capsys.readouterr().err.strip() == ("lstm-verify: model.onnx is an ONNX model: check it with --kind onnx, "
                                               "not --kind torch-cell (the default)")


def test_a_kind_whose_library_is_missing_names_the_kinds_and_what_the_target_looks_like(monkeypatch):
    """As where torch is not installed: the default kind cannot load, and says so in one line."""
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ModuleNotFoundError
    for module in ("lstm_verify.adapters.torch_cell", "lstm_verify.adapters._torch"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(TargetError) as raised:
        adapter_for(numpy_step, "torch-cell")
    assert str(raised.value) == (
        "--kind torch-cell (the default) needs torch, which is not installed; the target looks like --kind "
        "numpy-step (step(x, h, c, *weights) -> (h, c) on NumPy arrays); kinds: torch-cell, torch-lstm, numpy-step, "
        "jax-step, tf-step, onnx, adapter")


def test_what_a_target_looks_like():
    assert looks_like(numpy_step) == "numpy-step"
    assert looks_like(len) is None and looks_like(object) is None


def test_columns_are_named_name_dtype_in_every_dtype():
    results = [Result(f"cell-{d}", "test_gate_order", "passed") for d in ("float16", "bfloat16", "float32")]
    header = matrix(results).splitlines()[0].split()
    assert header == ["property", "cell-bfloat16", "cell-float16", "cell-float32"]


def test_native_start_up_logs_are_kept_out_and_everything_else_passes(capfd):
    """What TensorFlow 2.21 prints at import whatever TF_CPP_MIN_LOG_LEVEL says, from this process
    and from a child (an xdist worker inherits the filtered descriptor)."""
    noise = (b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
             b"I0000 00:00:1796602018.766848   28112 port.cc:153] oneDNN custom operations are on.\n")
    with without_native_noise():
        os.write(2, noise + b"a real complaint\n")
        child = f"import os; os.write(2, {noise!r} + b'E0000 00:00:1.0 7 x.cc:1] an error\\n')"
        subprocess.run([sys.executable, "-c", child], check=True)
    assert capfd.readouterr().err == "a real complaint\nE0000 00:00:1.0 7 x.cc:1] an error\n"
