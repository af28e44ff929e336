"""torch-onnx: the marker-parameter reading of an exported graph, a wrong reordering caught by the
laws, the dynamo exporter's folded sequence length kept as evidence, a user's torch-lstm class
checked through its export (``--via onnx``), and an exported stack read as one implementation per
LSTM node."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

import properties  # noqa: E402
from lstm_verify.adapters import torch_onnx  # noqa: E402
from lstm_verify.adapters.torch_onnx import Config, TorchOnnxAdapter, exported  # noqa: E402
from lstm_verify.checks import LawViolation  # noqa: E402
from lstm_verify.cli import main  # noqa: E402
from lstm_verify.guard import ImplementationError  # noqa: E402
from lstm_verify.implementation import Implementation  # noqa: E402
from lstm_verify.targets import adapter_for, target_adapters  # noqa: E402
from tests.catalogue import HERE  # noqa: E402
from tests.catalogue.torch_lstms import LoopedLSTM, UnreversedBackwardLSTM  # noqa: E402

PROPERTIES = properties.collect()


def test_exported_graph_equals_the_module():
    """Fed through the gathers read back from the marker export, the graph computes nn.LSTM with
    the parameters under test (2 layers, bidirectional, batch_first), as torch itself does."""
    module = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    names = tuple(n for n, _ in module.named_parameters())
    exp = exported(Config(torch.nn.LSTM, names, 3, 4, 2, True, True, state=True, dynamo=False))
    flat = np.concatenate([p.detach().numpy().reshape(-1) for p in module.parameters()])
    x, h0, c0 = (np.random.default_rng(k).normal(size=s).astype(np.float32)
                 for k, s in enumerate([(2, 5, 3), (4, 2, 4), (4, 2, 4)]))
    feeds = {name: flat[index] for name, index in exp.gathers.items()}
    y, h, c = exp.session.run(["y", "h_n", "c_n"], {**feeds, "x": x, "h0": h0, "c0": c0})
    with torch.no_grad():
        want_y, (want_h, want_c) = module(torch.from_numpy(x), (torch.from_numpy(h0), torch.from_numpy(c0)))
    for got, want in ((y, want_y), (h, want_h), (c, want_c)):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-6)


class SwappedGatesAdapter(TorchOnnxAdapter):
    """An exporter that reorders the gate blocks wrongly: the graph reads f where g belongs."""

    def __init__(self) -> None:
        super().__init__(name="torch-onnx-swapped-gates")

    def _model(self, natives, stacked):
        def swap(a):
            i, f, g, o = np.split(a, 4)
            return np.concatenate([i, g, f, o])
        return super()._model([[{k: swap(v) for k, v in n.items()} for n in layer] for layer in natives], stacked)


def test_laws_catch_a_wrong_exporter_gate_order(unshrunk):
    impl = Implementation(SwappedGatesAdapter(), "float32")
    for law in ("test_gate_order", "test_step_agrees_with_reference"):
        with pytest.raises(LawViolation, match="torch-onnx-swapped-gates"):
            PROPERTIES[law](impl=impl)


def test_a_graph_that_does_not_copy_the_parameters_is_refused():
    from onnx import helper, numpy_helper
    summed = numpy_helper.from_array(np.array([torch_onnx.MARK + 0 + torch_onnx.MARK + 1], np.float32), "b")
    model = helper.make_model(helper.make_graph([], "g", [], [], initializer=[summed]))
    with pytest.raises(ValueError, match="other than by copying them"):
        torch_onnx._parameters_as_inputs(model, 2)


def test_dynamo_exporter_folds_the_sequence_length():
    """Evidence for the README's finding (torch 2.13.0, onnxscript 0.7.2): exported with a dynamic
    sequence length at T = 7, the graph runs at T = 7 and fails at T = 5. When this test fails, the
    exporter is fixed: export once per configuration (``TorchOnnxModel.sequence``)."""
    pytest.importorskip("onnxscript")
    names = tuple(n for n, _ in torch.nn.LSTM(3, 4).named_parameters())
    exp = exported(Config(torch.nn.LSTM, names, 3, 4, 1, False, False, state=False, dynamo=True, steps=None))
    flat = np.zeros(1 + max(int(i.max()) for i in exp.gathers.values()), np.float32)
    feeds = {name: flat[index] for name, index in exp.gathers.items()}
    exp.session.run(None, {**feeds, "x": np.zeros((7, 2, 3), np.float32)})
    with pytest.raises(Exception, match=r"requested shape:\{7,-1,4\}"):
        exp.session.run(None, {**feeds, "x": np.zeros((5, 2, 3), np.float32)})


class MyLSTM(torch.nn.LSTM):
    """A user's module: nn.LSTM under its own name."""


class ShiftedLSTM(torch.nn.LSTM):
    """Adds 0.1 to every output: a defect of the user's own forward, exported with it."""

    def forward(self, input, hx=None):
        out, state = super().forward(input, hx)
        return out + 0.1, state


def test_via_onnx_checks_a_user_module_through_its_export():
    adapter = adapter_for(MyLSTM, "torch-lstm", via="onnx")
    assert (adapter.name, adapter.lstm_class) == ("MyLSTM-via-onnx", MyLSTM)
    impl = Implementation(adapter, "float32")
    for law in ("test_gate_order", "test_state_shapes", "test_sequence_agrees_with_reference"):
        PROPERTIES[law](impl=impl)


@pytest.mark.parametrize("module,law", [(ShiftedLSTM, "test_sequence_agrees_with_reference"),
                                        (UnreversedBackwardLSTM, "test_bidirectional"),
                                        (LoopedLSTM, "test_sequence_agrees_with_reference")])
def test_via_onnx_catches_a_defective_module(module, law, unshrunk):
    """Defects of the module, and one of its export only: LoopedLSTM (correct as torch-lstm) loops
    over time in Python, which the TorchScript exporter traces at the example's length."""
    impl = Implementation(adapter_for(module, "torch-lstm", via="onnx"), "float32")
    with pytest.raises((LawViolation, ImplementationError), match=f"{module.__name__}-via-onnx"):
        PROPERTIES[law](impl=impl)


def test_cli_checks_a_target_via_onnx(tmp_path):
    """End to end, the workers export the TARGET: its own column, the defect failing its law."""
    target = f"{HERE}/torch_lstms.py:UnreversedBackwardLSTM"
    run = subprocess.run([sys.executable, "-m", "lstm_verify.cli", "check", target, "--kind", "torch-lstm",
                          "--via", "onnx", "--dtypes", "float32", "--profile", "dev", "--quiet",
                          "-k", "bidirectional or state_shapes", "--cache-dir", str(tmp_path / "cache")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "FAILED test_bidirectional[UnreversedBackwardLSTM-via-onnx-float32]" in run.stdout
    assert "--lstm-via onnx" in run.stdout  # the reproducer
    assert "1 passed, 1 failed" in run.stdout


@pytest.mark.parametrize("argv", [["torch.nn:LSTM", "--kind", "torch-cell", "--via", "onnx"],
                                  ["torch.nn:LSTM", "--kind", "torch-lstm", "--via", "tflite"],
                                  ["--via", "onnx"]])
def test_via_misuse_is_one_line_exit_2(argv, capsys):
    try:
        code = main(["check", *argv])
    except SystemExit as exc:  # argparse's choices
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--via" in err, err


def test_an_exported_stack_is_one_implementation_per_layer(tmp_path):
    """The TorchScript exporter writes one LSTM node per layer: ``--kind onnx`` checks each."""
    path = tmp_path / "stacked.onnx"
    torch.onnx.export(torch.nn.LSTM(3, 4, num_layers=2), (torch.randn(5, 2, 3),), str(path), dynamo=False)
    adapters = target_adapters(str(path), "onnx")
    assert [a.name for a in adapters] == ["stacked/LSTM", "stacked/LSTM_1"]
    for adapter in adapters:
        PROPERTIES["test_gate_order"](impl=Implementation(adapter, "float32"))
