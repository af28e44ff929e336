"""The ONNX laws against a NumPy ``LSTM`` node written from the operator's text: correct, it passes
every law; with each defect the ONNX attributes invite, it fails the law built for it. Plus the
ONNX adapters' graph building, the ONNX layout's peepholes, the ONNX project's reading of
peepholes against the reference, and ``--kind onnx`` on models of one and two LSTM nodes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("onnx")

from onnx import ModelProto, TensorProto, helper, numpy_helper  # noqa: E402

import properties  # noqa: E402
from lstm_verify import reference  # noqa: E402
from lstm_verify.adapters._onnx import OnnxAdapter, Run, attributes, lstm_graph, variant_of  # noqa: E402
from lstm_verify.checks import LawViolation  # noqa: E402
from lstm_verify.guard import ImplementationError  # noqa: E402
from lstm_verify.implementation import Implementation  # noqa: E402
from lstm_verify.layouts import ONNX  # noqa: E402
from lstm_verify.params import Case  # noqa: E402
from lstm_verify.reference import TAKES, Activation, Variant  # noqa: E402

PROPERTIES = properties.collect()
EXPENSIVE = {"test_delayed_xor_solvable", "test_early_input_gradient_dominance"}


class NumpyLSTMNode:
    """One ONNX ``LSTM`` node run in NumPy, from the operator's text (every input and attribute),
    row by row so ``sequence_lens`` is plain; ``defect`` names the one thing it gets wrong."""

    def __init__(self, node, defect: str | None = None) -> None:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        self.defect = defect
        self.layout = 0 if defect == "layout read as 0" else attrs.get("layout", 0)
        self.direction = attrs.get("direction", b"forward").decode()
        self.clip = attrs.get("clip")
        self.coupled = bool(attrs.get("input_forget", 0)) and defect != "uncoupled forget gate"
        names = [n.decode() for n in attrs.get("activations", [])] or ["Sigmoid", "Tanh", "Tanh"] * 2
        alphas, betas = list(attrs.get("activation_alpha", [])), list(attrs.get("activation_beta", []))
        self.acts = []
        for k, name in enumerate(names):  # consumed in order by the activations that take them
            if defect == "alpha and beta read by position":
                alpha, beta = (v[k] if k < len(v) else None for v in (alphas, betas))
            else:
                alpha = alphas.pop(0) if "a" in TAKES.get(name, "") else None
                beta = betas.pop(0) if "b" in TAKES.get(name, "") else None
            self.acts.append(Activation(name, alpha, beta))

    def _clip(self, z: np.ndarray) -> np.ndarray:
        return z if self.clip is None or self.defect == "clip on the cell" else np.clip(z, -self.clip, self.clip)

    def _h_input(self, c: np.ndarray) -> np.ndarray:
        """h's input: clipped, as every activation's input ("clip gates only": onnxruntime's reading)."""
        return c if self.defect == "clip gates only" else self._clip(c)

    def _row(self, d: int, xs, h, c, w, r, b, p):
        f_act, g_act, h_act = self.acts[3 * d:3 * d + 3]
        p_i, p_o, p_f = np.split(p, 3)
        if self.defect == "peepholes read as i, f, o":
            p_i, p_f, p_o = np.split(p, 3)
        ys = []
        for x in xs:
            z_i, z_o, z_f, z_c = np.split(x @ w.T + h @ r.T + b[:len(b) // 2] + b[len(b) // 2:], 4)
            i = f_act(self._clip(z_i + p_i * c))
            f = 1 - i if self.coupled else f_act(self._clip(z_f + p_f * c))
            c = f * c + i * g_act(self._clip(z_c))
            if self.defect == "clip on the cell" and self.clip is not None:
                c = np.clip(c, -self.clip, self.clip)
            h = f_act(self._clip(z_o + p_o * c)) * h_act(self._h_input(c))
            ys.append(h)
        return ys, h, c

    def __call__(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        x, w, r = feeds["X"], feeds["W"], feeds["R"]
        directions, hidden = w.shape[0], r.shape[-1]
        states = [feeds.get(k) for k in ("initial_h", "initial_c")]
        if self.layout:
            x = x.swapaxes(0, 1)
            states = [s if s is None else s.swapaxes(0, 1) for s in states]
        steps, batch = x.shape[:2]
        h0, c0 = (np.zeros((directions, batch, hidden), x.dtype) if s is None else s for s in states)
        b = feeds.get("B", np.zeros((directions, 8 * hidden), x.dtype))
        p = feeds.get("P", np.zeros((directions, 3 * hidden), x.dtype))
        lengths = feeds.get("sequence_lens", np.full(batch, steps))
        if self.defect == "sequence_lens ignored":
            lengths = np.full(batch, steps)
        y = np.zeros((steps, directions, batch, hidden), x.dtype)
        y_h, y_c = np.zeros_like(h0), np.zeros_like(c0)
        for d in range(directions):
            backward = self.direction == "reverse" or d == 1
            for row, n in enumerate(lengths):
                run = steps if self.defect == "final state at the padded end" else n
                order = np.arange(run)[::-1] if backward else np.arange(run)
                ys, y_h[d, row], y_c[d, row] = self._row(d, x[order, row], h0[d, row], c0[d, row], w[d], r[d], b[d],
                                                         p[d])
                for t, value in zip(order, ys):
                    y[t, d, row] = value if t < n else 0
        if self.layout:
            return [y.transpose(2, 0, 1, 3), y_h.swapaxes(0, 1), y_c.swapaxes(0, 1)]
        return [y, y_h, y_c]


class NumpyNodeAdapter(OnnxAdapter):
    """The NumPy node as a runtime: every ONNX law applies to it."""

    name = "numpy-onnx"

    def __init__(self, defect: str | None = None) -> None:
        super().__init__()
        self.defect = defect
        if defect:
            self.name = "numpy-onnx-" + defect.replace(" ", "-").replace(",", "")

    def compile(self, model) -> Run:
        return NumpyLSTMNode(model.graph.node[0], self.defect)


DEFECTS = {
    "peepholes read as i, f, o": ("test_peephole_order", "test_peepholes_agree_with_reference"),
    "layout read as 0": ("test_batch_major_equals_time_major",),
    "sequence_lens ignored": ("test_variable_lengths", "test_every_opset_agrees_with_reference"),
    "final state at the padded end": ("test_variable_lengths", "test_every_opset_agrees_with_reference"),
    "clip on the cell": ("test_clip_agrees_with_reference",),
    "clip gates only": ("test_clip_agrees_with_reference",),
    "uncoupled forget gate": ("test_coupled_gates_agree_with_reference",),
    "alpha and beta read by position": ("test_activations_agree_with_reference",),
}
"""Each defect and the laws that must catch it."""


def _applicable(prop, impl: Implementation) -> bool:
    return properties.skip_reason(prop, impl, "thorough") is None


@pytest.mark.parametrize("defect,law", [(d, law) for d, laws in DEFECTS.items() for law in laws])
def test_onnx_law_catches_defect(defect, law, unshrunk):
    impl = Implementation(NumpyNodeAdapter(defect), "float64", time_limit=10.0)
    assert _applicable(PROPERTIES[law], impl)
    with pytest.raises((LawViolation, ImplementationError)) as info:
        PROPERTIES[law](impl=impl)
    assert impl.adapter.name in str(info.value)


def test_every_onnx_law_is_broken_by_some_defect():
    onnx_laws = {name for name, fn in PROPERTIES.items() if fn.__module__ == "properties.test_variants"}
    assert onnx_laws <= {law for laws in DEFECTS.values() for law in laws}


@pytest.mark.parametrize("law", sorted(set(PROPERTIES) - EXPENSIVE))
def test_correct_onnx_node_passes(law):
    impl = Implementation(NumpyNodeAdapter(), "float64")
    if not _applicable(PROPERTIES[law], impl):
        pytest.skip(f"lacks {properties.requirements(PROPERTIES[law])}")
    PROPERTIES[law](impl=impl)


VARIANTS = [Variant(), Variant(clip=1.5, input_forget=True),
            Variant(Activation("HardSigmoid", 0.25, 0.5), Activation("LeakyRelu", 0.125),
                    Activation("ScaledTanh", 1.5, 0.75)),
            Variant(Activation("Affine", 0.5, -0.25), Activation("Softsign"), Activation("Elu", 0.75))]
"""Attribute values exact in float32, as ONNX stores them."""


@pytest.mark.parametrize("variant", VARIANTS, ids=repr)
def test_attributes_round_trip(variant):
    """What the adapters write is what an ONNX model is read as (``--kind onnx``); alpha and beta
    are written only for the activations that take them, in order."""
    model = lstm_graph("float32", 4, 22, 0, "forward", variant, ("B",))
    assert variant_of(model.graph.node[0]) == variant
    attrs = attributes(variant, 2)
    if "activations" in attrs:
        assert len(attrs["activations"]) == 6
        takes_alpha = [a for a in (variant.f, variant.g, variant.h) if "a" in TAKES.get(a.name, "")]
        assert attrs.get("activation_alpha", []) == [a.alpha for a in takes_alpha] * 2


def test_onnx_peepholes_are_i_o_f():
    params = replace(Case(1, 3, 2, seed=5).arrays()[0], p=np.arange(6.0))
    np.testing.assert_array_equal(ONNX.to_native(params)["p"], [0.0, 1.0, 4.0, 5.0, 2.0, 3.0])


@pytest.mark.parametrize("reverse", [False, True])
def test_onnx_reference_evaluator_reads_peepholes_as_the_reference(reverse):
    """The ONNX project's own executable reading of the operator (its ReferenceEvaluator, which
    does implement P) agrees with the kit's reference on peepholes: an independent check that
    i and f read c_{t-1}, o reads c_t, and P is [p_i, p_o, p_f]."""
    from lstm_verify.adapters.onnx_reference import OnnxReferenceAdapter
    case = Case(3, 4, 5, steps=6, seed=9)
    params, xs, h0, c0 = case.arrays()
    params = replace(params, p=case.peepholes())
    impl = Implementation(OnnxReferenceAdapter(), "float64")
    hs, (h, c) = impl.load_variant(params, Variant(peepholes=True)).sequence(xs, (h0, c0), reverse=reverse)
    order = slice(None, None, -1 if reverse else 1)
    want = reference.lstm_forward(params, xs[order], h0, c0, variant=Variant(peepholes=True))
    np.testing.assert_allclose(hs, want.hs[order], rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(c, want.cs[-1], rtol=1e-13, atol=1e-14)


@pytest.fixture
def clipped_model(tmp_path):
    """An ``.onnx`` file holding one LSTM node with clip=1.5 at opset 14, as a user would pass it."""
    pytest.importorskip("onnxruntime")
    path = tmp_path / "clipped.onnx"
    model = lstm_graph("float32", 6, 14, 0, "forward", Variant(clip=1.5), ("B", "initial_c", "initial_h"))
    path.write_bytes(model.SerializeToString())
    return path


def declaring(onnx_path, clip_reading: str) -> str:
    """A TARGET ``model.py:model`` next to ``onnx_path``: a function returning that model, declaring
    the reading of its nodes' clip to check (how a ``--kind onnx`` user asks for one). Named for its
    folder: the kit keeps a TARGET file's module by the file's name."""
    module = onnx_path.parent / f"{onnx_path.parent.name}_{clip_reading}.py"
    module.write_text(f"import onnx\nimport lstm_verify\n\n\n@lstm_verify.capabilities(clip_reading={clip_reading!r})\n"
                      f"def model():\n    return onnx.load({str(onnx_path)!r})\n")
    return f"{module}:model"


def test_kind_onnx_runs_the_node_as_the_model_has_it(clipped_model):
    """``--kind onnx``: the model's opset and attributes are kept, the laws that need the plain
    sigmoid/tanh cell are skipped, and agreement is checked against the reference's variant: its
    clip in the specification's reading, which onnxruntime does not follow (the failure says so),
    or in the reading the user declares, which onnxruntime does."""
    from lstm_verify.targets import target_adapter
    adapter = target_adapter(str(clipped_model), "onnx")
    assert (adapter.opset, adapter.layout_attr, adapter.name) == (14, 0, "clipped/0")
    assert adapter.capabilities.variant == Variant(clip=1.5) and not adapter.capabilities.sigmoid_tanh
    assert "sigmoid_tanh" in properties.requirements(PROPERTIES["test_gate_order"])
    with pytest.raises(LawViolation, match=r"\[clipped/0-float32; .*\] \(known difference: onnxruntime is known to "
                                           r"read clip as 'gates'.*microsoft/onnxruntime#27224"):
        PROPERTIES["test_sequence_agrees_with_reference"](impl=Implementation(adapter, "float32"))
    adapter = target_adapter(declaring(clipped_model, "gates"), "onnx")
    assert (adapter.name, adapter.capabilities.variant) == ("model/0", Variant(clip=1.5, clip_reading="gates"))
    PROPERTIES["test_sequence_agrees_with_reference"](impl=Implementation(adapter, "float32"))


def test_onnx_target_declares_only_a_reading(clipped_model):
    from lstm_verify.targets import TargetError, adapters_for, capabilities
    model = capabilities(clip=1.0)(lambda: ModelProto())
    with pytest.raises(TargetError, match="declare clip_reading alone"):
        adapters_for(model, "onnx")
    with pytest.raises(TargetError, match="clip_reading must be one of spec, gates, cell; got 'gate'"):
        adapters_for(capabilities(clip_reading="gate")(lambda: ModelProto()), "onnx")


def test_cli_checks_an_onnx_model(clipped_model, tmp_path):
    """The model through a TARGET that asks for onnxruntime's reading of its clip."""
    import subprocess
    import sys
    run = subprocess.run([sys.executable, "-m", "lstm_verify.cli", "check", declaring(clipped_model, "gates"),
                          "--kind", "onnx",
                          "--dtypes", "float32", "--profile", "dev", "--quiet",
                          "-k", "test_sequence_agrees_with_reference", "--cache-dir", str(tmp_path / "cache")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "test_sequence_agrees_with_reference" in run.stdout and "0 failed" in run.stdout


def test_cli_refuses_a_model_without_an_lstm(tmp_path):
    import subprocess
    import sys
    relu = helper.make_node("Relu", ["x"], ["y"])
    graph = helper.make_graph([relu], "g", [helper.make_tensor_value_info("x", 1, None)],
                              [helper.make_tensor_value_info("y", 1, None)])
    (tmp_path / "relu.onnx").write_bytes(helper.make_model(graph).SerializeToString())
    run = subprocess.run([sys.executable, "-m", "lstm_verify.cli", "check", str(tmp_path / "relu.onnx"), "--kind",
                          "onnx"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "the model has no LSTM node" in run.stderr, run.stderr


def two_lstm_model(**second: object) -> ModelProto:
    """X -> LSTM -> Squeeze -> LSTM named ``dec`` with ``second``'s attributes (an encoder and decoder)."""
    first = helper.make_node("LSTM", ["X", "W0", "R0"], ["Y0"], hidden_size=4)
    squeeze = helper.make_node("Squeeze", ["Y0", "axes"], ["H0"])
    last = helper.make_node("LSTM", ["H0", "W1", "R1"], ["Y1"], name="dec", hidden_size=4, **second)
    weights = [numpy_helper.from_array(np.zeros(shape, np.float32), name)
               for name, shape in (("W0", (1, 16, 3)), ("R0", (1, 16, 4)), ("W1", (1, 16, 4)), ("R1", (1, 16, 4)))]
    axes = numpy_helper.from_array(np.array([1], np.int64), "axes")
    graph = helper.make_graph([first, squeeze, last], "two",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", "B", 3])],
                              [helper.make_tensor_value_info("Y1", TensorProto.FLOAT, ["T", 1, "B", 4])],
                              initializer=[*weights, axes])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], ir_version=8)


@pytest.fixture
def two_node_model(tmp_path):
    """``two.onnx``: a plain LSTM node, then ``dec`` reversed with clip=0.5."""
    pytest.importorskip("onnxruntime")
    path = tmp_path / "two.onnx"
    path.write_bytes(two_lstm_model(direction="reverse", clip=0.5).SerializeToString())
    return path


def test_kind_onnx_checks_every_lstm_node(two_node_model):
    """One implementation per node, each with its own attributes; onnxruntime runs both right (the
    second's clip in the reading it follows)."""
    from lstm_verify.targets import target_adapters
    adapters = target_adapters(declaring(two_node_model, "gates"), "onnx")
    assert [(a.name, a.capabilities.variant) for a in adapters] == [
        ("model/0", Variant()), ("model/dec", Variant(clip=0.5, clip_reading="gates"))]
    for adapter in adapters:
        PROPERTIES["test_sequence_agrees_with_reference"](impl=Implementation(adapter, "float32"))


def test_node_names_become_unique_test_ids(tmp_path):
    """Node names need not be unique in ONNX, nor fit a test id: a repeated one gets its index,
    characters outside letters, digits and ``._-/`` become ``_``."""
    pytest.importorskip("onnxruntime")
    from lstm_verify.targets import target_adapters
    model = two_lstm_model()
    nodes = [n for n in model.graph.node if n.op_type == "LSTM"]
    for node, label in zip(nodes, ("enc [0]", "enc [0]")):
        node.name = label
    path = tmp_path / "dup.onnx"
    path.write_bytes(model.SerializeToString())
    assert [a.name for a in target_adapters(str(path), "onnx")] == ["dup/enc__0_", "dup/enc__0_-1"]


def test_a_broken_second_node_fails_its_own_column(two_node_model, tmp_path):
    """onnx's ReferenceEvaluator ignores ``clip`` (README, "What the kit found"): on it (``--runtime``,
    which reaches the workers as ``--lstm-runtime``) the clipped second node fails, the first passes."""
    import json
    import subprocess
    import sys
    report = tmp_path / "results.json"
    run = subprocess.run([sys.executable, "-m", "lstm_verify.cli", "check", str(two_node_model), "--kind", "onnx",
                          "--runtime", "onnx-reference", "--dtypes", "float32", "--profile", "dev", "--quiet",
                          "-k", "test_sequence_agrees_with_reference", "--json", str(report),
                          "--cache-dir", str(tmp_path / "cache")], capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stdout + run.stderr
    results = {r["implementation"]: r for r in json.loads(report.read_text())}
    assert {k: r["status"] for k, r in results.items()} == {"two/0-float32": "passed", "two/dec-float32": "failed"}
    assert "(known difference: onnx's ReferenceEvaluator LSTM" in results["two/dec-float32"]["reason"]


def test_bench_times_every_lstm_node_against_its_own_cell(two_node_model, capsys):
    """``bench`` on a model of two nodes: a row per node, each held to the cell it computes (the
    second node's clip=0.5 too): in the specification's reading onnxruntime's second node is
    WRONG, with the known difference; in the reading it follows, both agree."""
    from lstm_verify.cli import main
    options = ["--kind", "onnx", "--shape", "2,3,4,5", "--modes", "forward", "--no-baselines", "--repeats", "2",
               "--plot", "", "--quiet"]
    code = main(["bench", str(two_node_model), *options])
    text = capsys.readouterr().out
    assert code == 1 and "WRONG two/dec" in text and "WRONG two/0" not in text, text
    assert "known difference: onnxruntime is known to read clip as 'gates'" in text
    code = main(["bench", declaring(two_node_model, "gates"), *options])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "model/0" in text and "model/dec" in text and "WRONG" not in text


def test_plugin_takes_lstm_runtime(two_node_model, tmp_path):
    import subprocess
    import sys

    from lstm_verify.adapters.onnx_reference import OnnxReferenceAdapter
    run = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", "properties", "--collect-only",
                          "-p", "no:cacheprovider", "-k", "test_sequence_agrees_with_reference",
                          "--lstm-impl", str(two_node_model), "--lstm-kind", "onnx", "--lstm-runtime", "onnx-reference",
                          "--lstm-dtypes", "float32", "--lstm-cache-dir", str(tmp_path / "cache")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"two/dec: {OnnxReferenceAdapter().version()} (layout onnx)" in run.stdout
    assert "test_sequence_agrees_with_reference[two/dec-float32]" in run.stdout


@pytest.mark.parametrize("runtime,module", [("opencv", "cv2"), ("tract", "tract")])
def test_kind_onnx_runs_on_the_deployment_runtimes(two_node_model, runtime, module):
    """``--kind onnx --runtime opencv|tract``: the plain node agrees with the reference; the second,
    reversed with clip=0.5, fails, and the failure names what the runtime ignores (docs/onnx.md)."""
    pytest.importorskip(module)
    from lstm_verify.targets import target_adapters
    plain, clipped = target_adapters(str(two_node_model), "onnx", runtime=runtime)
    assert (plain.name, clipped.name, type(plain).name) == ("two/0", "two/dec", runtime)
    PROPERTIES["test_sequence_agrees_with_reference"](impl=Implementation(plain, "float32"))
    with pytest.raises(LawViolation, match=r"\[two/dec-float32; .*\(known difference: .* ignores clip"):
        PROPERTIES["test_sequence_agrees_with_reference"](impl=Implementation(clipped, "float32"))


def test_tracts_activations_need_the_approximate_precision_it_declares(tmp_path):
    """tract's Sigmoid and Tanh are off by more than the own error an IEEE activation may have (``OWN_ULPS``;
    its adapter's ``precision`` says so, with the figures this measures): declaring ``ieee`` would be false."""
    tract = pytest.importorskip("tract")
    from onnx import TensorProto, helper

    from lstm_verify.adapters.tract_lstm import TractAdapter
    from lstm_verify.error_model import own_ulps, precision
    from lstm_verify.reference import PLAIN

    x = np.linspace(-20, 20, 40001).astype(np.float32)
    worst = {}
    for op, exact in (("Sigmoid", lambda v: 1 / (1 + np.exp(-v))), ("Tanh", np.tanh)):
        graph = helper.make_graph([helper.make_node(op, ["x"], ["y"])], op,
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [x.size])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [x.size])])
        path = tmp_path / f"{op}.onnx"
        path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], ir_version=8)
                         .SerializeToString())
        got = tract.onnx().load(str(path)).into_model().into_runnable().run([x])[0].to_numpy()
        want = exact(x.astype(np.float64))
        allowed = own_ulps(PLAIN.f if op == "Sigmoid" else PLAIN.g, x, "float32")
        worst[op] = float((np.abs(got - want) / (2.0 ** -24 * np.maximum(np.abs(want), 1.0)) / allowed).max())
    assert worst["Sigmoid"] > 1 and worst["Tanh"] > 1, worst
    assert precision(TractAdapter().precision("float32")).approximate
