"""torch-onnx: the marker-parameter reading of an exported graph, a wrong reordering caught by the
laws, and the dynamo exporter's folded sequence length kept as evidence."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

import properties  # noqa: E402
from lstm_verify.adapters import torch_onnx  # noqa: E402
from lstm_verify.adapters.torch_onnx import Config, TorchOnnxAdapter, exported  # noqa: E402
from lstm_verify.checks import LawViolation  # noqa: E402
from lstm_verify.implementation import Implementation  # noqa: E402

PROPERTIES = properties.collect()


def test_exported_graph_equals_the_module():
    """Fed through the gathers read back from the marker export, the graph computes nn.LSTM with
    the parameters under test (2 layers, bidirectional, batch_first), as torch itself does."""
    config = Config(3, 4, 2, True, True, state=True, dynamo=False)
    exp = exported(config)
    module = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
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


def test_laws_catch_a_wrong_exporter_gate_order():
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
    exp = exported(Config(3, 4, 1, False, False, state=False, dynamo=True, steps=None))
    flat = np.zeros(1 + max(int(i.max()) for i in exp.gathers.values()), np.float32)
    feeds = {name: flat[index] for name, index in exp.gathers.items()}
    exp.session.run(None, {**feeds, "x": np.zeros((7, 2, 3), np.float32)})
    with pytest.raises(Exception, match=r"requested shape:\{7,-1,4\}"):
        exp.session.run(None, {**feeds, "x": np.zeros((5, 2, 3), np.float32)})
