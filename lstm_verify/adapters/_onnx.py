"""Shared by the ONNX adapters: an ``LSTM`` node built with ``onnx.helper``, fed the canonical
parameters in ONNX's layout, and run by a runtime (onnxruntime, onnx's ReferenceEvaluator, ...).

The parameters travel as graph inputs, so one session per graph structure (opset, layout,
direction, attributes, which optional inputs are present) serves every parameter set; a runtime
is a function ``ModelProto -> run(feeds) -> [Y, Y_h, Y_c]``, cached per model.

``activation_alpha`` / ``activation_beta`` are written for the activations that take them, in
order (f, g, h, then the backward direction's): the reading onnxruntime implements
(``rnn_helpers.cc``, ``NormalizeActivationArgumentAndGetAlphaBetaCount``). Every alpha and beta
is written out, so no runtime's defaults are relied on.
"""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from typing import Callable, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper

from lstm_verify.adapters.base import Adapter, Capabilities, Model, SequenceModel, State
from lstm_verify.expected import Expected
from lstm_verify.layouts import ONNX, Native
from lstm_verify.reference import ACTIVATIONS, CLIP_READINGS, PLAIN, TAKES, Activation, Variant

OPSETS = (7, 14, 22)
"""The opsets that define LSTM: 7 (the original), 14 (``layout``), 22 (bfloat16 / float16 types)."""
ELEMENT = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE}
ACTIVATION_ATTRIBUTES = "activations, activation_alpha and activation_beta"
IGNORABLE: dict[str, tuple[tuple[str, str], ...]] = {
    "sequence_lens": (("test_variable_lengths", r"(\(row \d+, length \d+\)|^final [hc] of row \d+)"),
                      ("test_every_opset_agrees_with_reference", r"^Y(_[hc])?\[:, \d+\] at opset.*lengths=\[")),
    "direction=reverse": (("test_reverse_equals_forward_on_reversed_input", r"^(hs|final [hc]) \(reverse"),
                          *((law, r"but should be.*'reverse=True'") for law in (
                              "test_peepholes_agree_with_reference", "test_clip_agrees_with_reference",
                              "test_coupled_gates_agree_with_reference", "test_activations_agree_with_reference"))),
    "clip": (("test_clip_agrees_with_reference", r"but should be.*clip=[0-9.]+"),),
    "input_forget": (("test_coupled_gates_agree_with_reference", r"but should be.*input_forget=True"),),
    ACTIVATION_ATTRIBUTES: (("test_activations_agree_with_reference", r"but should be.*Activation\(name="),),
}
"""What a runtime may silently ignore of an ``LSTM`` node: each law that shows it, and the pattern of
the violation it causes there (a wrong value, never a refusal)."""
UNCLIPPED = ("zero weights, b_g = 3, c_0 = 2, clip=0.5 give the unclipped h_1 = 0.4524, c_1 = 1.4975 where the "
             "specification gives 0.2311, 1.2311")
"""The evidence a runtime ignores ``clip``: this case, measured on each runtime that lists it, gives the
unclipped LSTM's values."""
UNCOUPLED = ("input_forget=1, b_i = 2, b_g = 1, c_0 = 1 give the uncoupled c_1 = 1.1708 where f = 1 - i gives "
             "0.7900")
"""The evidence a runtime ignores ``input_forget``: this case, measured on each runtime that lists it,
gives the uncoupled LSTM's value."""
Run = Callable[[dict[str, np.ndarray]], list[np.ndarray]]


def attributes(variant: Variant, directions: int) -> dict[str, object]:
    """The ``LSTM`` attributes that say ``variant`` (none for the plain LSTM)."""
    attrs: dict[str, object] = {}
    if variant.input_forget:
        attrs["input_forget"] = 1
    if variant.clip is not None:
        attrs["clip"] = float(variant.clip)
    acts = (variant.f, variant.g, variant.h) * directions
    if acts[:3] != (PLAIN.f, PLAIN.g, PLAIN.h):
        attrs["activations"] = [a.name for a in acts]
        args = [a.args() for a in acts]
        alphas = [ab[0] for a, ab in zip(acts, args) if "a" in TAKES.get(a.name, "")]
        betas = [ab[1] for a, ab in zip(acts, args) if "b" in TAKES.get(a.name, "")]
        attrs.update({k: v for k, v in (("activation_alpha", alphas), ("activation_beta", betas)) if v})
    return attrs


def variant_of(node: onnx.NodeProto, clip_reading: str = "spec") -> Variant:
    """The :class:`Variant` an ``LSTM`` node computes (its forward direction's activations), read the
    way :func:`attributes` writes it, its ``clip`` in ``clip_reading`` (ONNX has no attribute for
    that: the specification's unless the user asks for another); ``peepholes`` stays False (the kit
    substitutes zeros for P)."""
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    names = [n.decode() if isinstance(n, bytes) else n for n in attrs.get("activations", [])]
    alphas, betas = list(attrs.get("activation_alpha", [])), list(attrs.get("activation_beta", []))
    acts = []
    for name in names[:3]:
        name = {k.lower(): k for k in ACTIVATIONS}.get(name.lower(), name)  # ONNX names are case-insensitive
        a = alphas.pop(0) if "a" in TAKES.get(name, "") and alphas else None
        b = betas.pop(0) if "b" in TAKES.get(name, "") and betas else None
        acts.append(Activation(name, a, b))
    f, g, h = acts or (PLAIN.f, PLAIN.g, PLAIN.h)
    return Variant(f, g, h, clip=attrs.get("clip"), clip_reading=clip_reading,
                   input_forget=bool(attrs.get("input_forget", 0)))


def lstm_graph(dtype: str, hidden: int, opset: int, layout: int, direction: str, variant: Variant,
               inputs: tuple[str, ...], shapes: dict[str, Sequence[int | str]] | None = None) -> onnx.ModelProto:
    """A model of one ``LSTM`` node whose present optional ``inputs`` (of ``B``, ``sequence_lens``,
    ``initial_h``, ``initial_c``, ``P``) are graph inputs, as are X, W and R; ``shapes`` gives every
    graph input's and output's shape by name (default: every size dynamic, named)."""
    directions = 2 if direction == "bidirectional" else 1
    order = ("X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P")
    names = [n if n in ("X", "W", "R") or n in inputs else "" for n in order]
    while not names[-1]:
        names.pop()
    attrs = attributes(variant, directions)
    if layout:
        attrs["layout"] = layout
    node = helper.make_node("LSTM", names, ["Y", "Y_h", "Y_c"], hidden_size=hidden, direction=direction, **attrs)
    elem = ELEMENT[dtype]
    ranks = {"sequence_lens": 1, "B": 2, "P": 2, "Y": 4}  # the others are rank 3
    shapes = shapes or {n: [f"{n}_{k}" for k in range(ranks.get(n, 3))] for n in (*names, "Y", "Y_h", "Y_c") if n}
    graph_inputs = [helper.make_tensor_value_info(n, TensorProto.INT32 if n == "sequence_lens" else elem, shapes[n])
                    for n in names if n]
    outputs = [helper.make_tensor_value_info(n, elem, shapes[n]) for n in ("Y", "Y_h", "Y_c")]
    graph = helper.make_graph([node], "lstm_verify", graph_inputs, outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def onnx_params(natives: list[Native]) -> dict[str, np.ndarray]:
    """W (D, 4H, I), R (D, 4H, H), B (D, 8H) = [Wb | Rb] and, with peepholes, P (D, 3H)."""
    feeds = {"W": np.stack([n["w_ih"] for n in natives]), "R": np.stack([n["w_hh"] for n in natives]),
             "B": np.stack([np.concatenate([n["b_ih"], n["b_hh"]]) for n in natives])}
    if "p" in natives[0]:
        feeds["P"] = np.stack([n["p"] for n in natives])
    return feeds


class OnnxModel(SequenceModel):
    """One ONNX ``LSTM`` layer (one or two directions) on a runtime.

    States are (B, H) for one direction and (D, B, H) for two (``stacked``), as everywhere in
    the kit; ``layout=1`` transposes to batch-major on the way in and back on the way out."""

    def __init__(self, adapter: OnnxAdapter, natives: list[Native], dtype: str, variant: Variant) -> None:
        self.adapter, self.dtype, self.variant = adapter, dtype, variant
        self.params = onnx_params(natives)
        self.hidden = natives[0]["w_hh"].shape[0] // 4
        self.stacked = len(natives) == 2

    def sequence(self, xs: np.ndarray, state: State | None = None, *, lengths: np.ndarray | None = None,
                 reverse: bool = False) -> tuple[np.ndarray, State]:
        direction = "bidirectional" if self.stacked else "reverse" if reverse else "forward"
        feeds = dict(self.params)
        if lengths is not None:
            feeds["sequence_lens"] = np.asarray(lengths, np.int32)
        if state is not None:
            feeds["initial_h"], feeds["initial_c"] = (s if self.stacked else s[None] for s in state)
        batch_major = self.adapter.layout_attr == 1
        if batch_major:
            xs = xs.transpose(1, 0, 2)
            for k in ("initial_h", "initial_c"):
                if k in feeds:
                    feeds[k] = feeds[k].transpose(1, 0, 2)
        run = self.adapter.session(self.dtype, self.hidden, direction, self.variant, tuple(sorted(feeds)))
        y, y_h, y_c = run({"X": np.ascontiguousarray(xs), **{k: np.ascontiguousarray(v) for k, v in feeds.items()}})
        if batch_major:  # Y (B, T, D, H), Y_h (B, D, H)
            y, y_h, y_c = y.transpose(1, 2, 0, 3), y_h.transpose(1, 0, 2), y_c.transpose(1, 0, 2)
        hs = y.transpose(0, 2, 1, 3).reshape(y.shape[0], y.shape[2], -1)  # (T, D, B, H) -> (T, B, D * H)
        return hs, (y_h, y_c) if self.stacked else (y_h[0], y_c[0])


class OnnxAdapter(Adapter):
    """An ONNX runtime running one ``LSTM`` node at ``opset`` with ``layout`` = ``layout_attr``.
    Subclasses set ``name``, ``requires``, the dtypes and :meth:`compile`."""

    layout = ONNX
    dtypes: tuple[str, ...] = ("float32", "float64")
    batch_major = True
    """Whether the runtime runs ``layout=1`` (opset 14 on)."""
    clip_reading = "spec"
    """The reading of ``clip`` the runtime follows (of :data:`~lstm_verify.reference.CLIP_READINGS`),
    shown by ``clip_evidence``. Another than the specification's is a known difference: the laws
    still check the specification's reading (or the one the user asks for), and a failure under
    it says which reading the runtime follows (:meth:`explain`)."""
    clip_evidence = ""
    """Where ``clip_reading`` is shown: the runtime's source or issue, and a measured value pair."""

    def __init__(self, opset: int = 22, layout_attr: int = 0, name: str | None = None) -> None:
        self.opset, self.layout_attr = opset, layout_attr
        self.name = name or type(self).name
        self.capabilities = Capabilities(dtypes=self.dtypes, sequence=True, lengths=True, reverse=True,
                                         bidirectional=True, variants=True, opsets=self.opsets(),
                                         batch_major=self.batch_major and opset >= 14)
        self._sessions: dict[tuple, Run] = {}

    def opsets(self) -> tuple[int, ...]:
        """The opsets this runtime runs LSTM at."""
        return OPSETS

    def at(self, opset: int | None = None, layout: int | None = None) -> OnnxAdapter:
        """The same runtime at another opset and/or ``layout`` attribute (0 below opset 14)."""
        other = copy.copy(self)
        other.opset = self.opset if opset is None else opset
        other.layout_attr = 0 if other.opset < 14 else self.layout_attr if layout is None else layout
        other.name = f"{self.name}@opset{other.opset}-layout{other.layout_attr}"
        other._sessions = {}
        return other

    ignores: dict[str, str] = {}
    """What of the node the runtime silently ignores (keys of :data:`IGNORABLE`), each with its
    measured evidence: a known difference of each law that shows it, named in the failures of a
    variant that sets it (:meth:`explain`)."""
    ignored_by = ""
    """Who ignores them: the runtime's code that reads the node (``tract's ONNX front end ...``)."""

    def ignoring(self, what: list[str]) -> str:
        """The reason a failure caused by ignoring ``what`` (keys of :attr:`ignores`) is known."""
        evidence = "; ".join(self.ignores[w] for w in what)
        return f"{self.ignored_by} ignores {' and '.join(what)}; measured with {self.measured}: {evidence}"

    def explain(self, variant: Variant) -> str | None:
        sets = {"clip": variant.clip is not None, "input_forget": variant.input_forget,
                ACTIVATION_ATTRIBUTES: (variant.f, variant.g, variant.h) != (PLAIN.f, PLAIN.g, PLAIN.h)}
        ignored = [what for what in self.ignores if sets.get(what)]
        if ignored:
            return self.ignoring(ignored)
        if variant.clip is None or variant.clip_reading == self.clip_reading:
            return None
        return (f"{type(self).name} is known to read clip as {self.clip_reading!r}: it "
                f"{CLIP_READINGS[self.clip_reading][1]} ({self.clip_evidence})")

    measured = ""
    """The runtime's version its known differences were measured with (``onnxruntime==1.32.0``)."""

    def known_differences(self, dtype: str) -> list[Expected]:
        """``test_clip_agrees_with_reference`` (the specification's reading) when the runtime
        declares another reading of ``clip`` (after one step its h, and through h the later cells,
        differ from the specification's), and the laws that show what it :attr:`ignores`."""
        reading = None if "clip" in self.ignores else self.explain(Variant(clip=1.0))
        return [*(Expected(law, self.ignoring([what]), match=match, versions=self.measured)
                  for what in self.ignores for law, match in IGNORABLE[what]),
                *([Expected("test_clip_agrees_with_reference", reading, match=r"^(hs|final [hc])\[.*clip_reading='spec'",
                            versions=self.measured)] if reading else [])]

    def compile(self, model: onnx.ModelProto) -> Run:
        """A function running ``model``: feeds -> its outputs."""
        raise NotImplementedError

    def session(self, dtype: str, hidden: int, direction: str, variant: Variant, inputs: tuple[str, ...]) -> Run:
        """The runtime's session for that graph (:func:`lstm_graph`), compiled once."""
        key = (dtype, hidden, direction, variant, inputs)
        if key not in self._sessions:
            self._sessions[key] = self.compile(lstm_graph(dtype, hidden, self.opset, self.layout_attr, direction,
                                                          variant, inputs))
        return self._sessions[key]

    def load(self, native: Native, dtype: str) -> Model:
        return OnnxModel(self, [native], dtype, self.capabilities.variant)

    def load_variant(self, native: Native, dtype: str, variant: Variant) -> Model:
        return OnnxModel(self, [native], dtype, variant)

    def load_stack(self, layers: list[list[Native]], dtype: str) -> Model:
        if len(layers) != 1 or "w_hr" in layers[0][0]:
            raise NotImplementedError("an ONNX LSTM node is one layer without projection")
        return OnnxModel(self, layers[0], dtype, self.capabilities.variant)


def model_adapters(model: onnx.ModelProto, runtime: OnnxAdapter, name: str, clip_reading: str = "spec"
                   ) -> list[OnnxAdapter]:
    """``runtime`` running each ``LSTM`` node of ``model`` as the model has it, one adapter per node,
    named ``name/<node name or index>`` (characters other than letters, digits, ``._-/`` made ``_``, a
    repeated name given its index too): at the model's opset, with the node's ``layout``, ``clip``
    (held to ``clip_reading``), ``input_forget`` and activations (the forward direction's, for
    both). The kit substitutes its parameters for W, R and B (and zeros for P), chooses
    ``hidden_size``, and sets ``direction`` per law (each law's own: forward, reverse or
    bidirectional)."""
    nodes = [n for n in model.graph.node if n.op_type == "LSTM" and n.domain in ("", "ai.onnx")]
    if not nodes:
        raise ValueError("the model has no LSTM node")
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    adapters, labels = [], set()
    for index, node in enumerate(nodes):
        layout = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "layout"), 0)
        adapter = runtime.at(opset=opset, layout=layout)
        label = re.sub(r"[^\w./-]", "_", node.name.strip("/")) or str(index)  # a test id, a -k word, a file name
        label = f"{label}-{index}" if label in labels else label  # ONNX does not require unique node names
        labels.add(label)
        adapter.name = f"{name}/{label}"
        adapter.capabilities = replace(adapter.capabilities, variant=variant_of(node, clip_reading), variants=False,
                                       opsets=(), batch_major=False)
        adapters.append(adapter)
    return adapters
