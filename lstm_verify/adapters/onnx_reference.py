"""onnx's own ``ReferenceEvaluator`` (pure NumPy) running one ONNX ``LSTM`` node, float32 and float64."""

from __future__ import annotations

import onnx
from onnx.reference import ReferenceEvaluator

from lstm_verify.adapters._onnx import OnnxAdapter, Run
from lstm_verify.reference import PLAIN, Variant

IGNORED = ("onnx's ReferenceEvaluator LSTM (onnx/reference/ops/op_lstm.py, 'TODO: support overridden "
           "attributes') ignores {what}; measured with onnx 1.23.2: {evidence}")
ATTRIBUTES = {
    "clip": ("test_clip_agrees_with_reference", "zero weights, b_g = 3, c_0 = 2, clip=0.5 give the unclipped "
                                                "h_1 = 0.4524, c_1 = 1.4975 where the specification gives 0.2311, "
                                                "1.2311"),
    "input_forget": ("test_coupled_gates_agree_with_reference", "input_forget=1 gives the uncoupled h (0.1831 for "
                                                                "0.1709)"),
    "activations, activation_alpha and activation_beta": ("test_activations_agree_with_reference",
                                                          "f = Relu computes sigmoid (h 0.133 where Relu gates "
                                                          "give 0)"),
}
"""The node attributes the evaluator ignores: the law each breaks, and the measured evidence."""


class OnnxReferenceAdapter(OnnxAdapter):
    """``onnx.reference.ReferenceEvaluator``: the operator's executable reading by the ONNX project."""

    name = "onnx-reference"
    requires = ("onnx",)

    def explain(self, variant: Variant) -> str | None:
        """The attributes ``variant`` sets that the evaluator ignores."""
        sets = {"clip": variant.clip is not None, "input_forget": variant.input_forget,
                "activations, activation_alpha and activation_beta": (variant.f, variant.g, variant.h) != (
                    PLAIN.f, PLAIN.g, PLAIN.h)}
        ignored = [what for what, used in sets.items() if used]
        return IGNORED.format(what=" and ".join(ignored), evidence="; ".join(ATTRIBUTES[w][1] for w in ignored)
                              ) if ignored else None

    def known_differences(self, dtype: str) -> dict[str, str]:
        lengths = {
            "test_variable_lengths": "with sequence_lens=[1] over 2 steps, Y_h is the state after the padded step "
                                     "(0.0054 where the row's own last step gives 0.11)",
            "test_every_opset_agrees_with_reference": "at every opset, Y_h of a row of length 1 of 4 is the padded "
                                                      "end's (-0.155 for 0.028)",
        }
        return {**{law: IGNORED.format(what="sequence_lens", evidence=ev) for law, ev in lengths.items()},
                **{law: IGNORED.format(what=what, evidence=ev) for what, (law, ev) in ATTRIBUTES.items()}}

    def compile(self, model: onnx.ModelProto) -> Run:
        evaluator = ReferenceEvaluator(model)
        return lambda feeds: evaluator.run(None, feeds)
