"""onnx's own ``ReferenceEvaluator`` (pure NumPy) running one ONNX ``LSTM`` node, float32 and float64."""

from __future__ import annotations

import onnx
from onnx.reference import ReferenceEvaluator

from lstm_verify.adapters._onnx import OnnxAdapter, Run
from lstm_verify.expected import Expected
from lstm_verify.reference import PLAIN, Variant

IGNORED = ("onnx's ReferenceEvaluator LSTM (onnx/reference/ops/op_lstm.py, 'TODO: support overridden "
           "attributes') ignores {what}; measured with onnx 1.23.2: {evidence}")
ATTRIBUTES = {
    "clip": ("test_clip_agrees_with_reference", r"but should be.*clip=[0-9.]+",
             "zero weights, b_g = 3, c_0 = 2, clip=0.5 give the unclipped h_1 = 0.4524, c_1 = 1.4975 where the "
             "specification gives 0.2311, 1.2311"),
    "input_forget": ("test_coupled_gates_agree_with_reference", r"but should be.*input_forget=True",
                     "input_forget=1 gives the uncoupled h (0.1831 for 0.1709)"),
    "activations, activation_alpha and activation_beta": (
        "test_activations_agree_with_reference", r"but should be.*Activation\(name=",
        "f = Relu computes sigmoid (h 0.133 where Relu gates give 0)"),
}
"""The node attributes the evaluator ignores: the law each breaks, the violation that shows it, and the
measured evidence."""


class OnnxReferenceAdapter(OnnxAdapter):
    """``onnx.reference.ReferenceEvaluator``: the operator's executable reading by the ONNX project."""

    name = "onnx-reference"
    requires = ("onnx",)

    measured = "onnx==1.23.2"

    def explain(self, variant: Variant) -> str | None:
        """The attributes ``variant`` sets that the evaluator ignores."""
        sets = {"clip": variant.clip is not None, "input_forget": variant.input_forget,
                "activations, activation_alpha and activation_beta": (variant.f, variant.g, variant.h) != (
                    PLAIN.f, PLAIN.g, PLAIN.h)}
        ignored = [what for what, used in sets.items() if used]
        return IGNORED.format(what=" and ".join(ignored), evidence="; ".join(ATTRIBUTES[w][2] for w in ignored)
                              ) if ignored else None

    def known_differences(self, dtype: str) -> list[Expected]:
        lengths = [  # law, the violation that shows it, the measured evidence
            ("test_variable_lengths", r"(\(row \d+, length \d+\)|^final [hc] of row \d+)",
             "with sequence_lens=[1] over 2 steps, Y_h is the state after the padded step (0.0054 where the row's "
             "own last step gives 0.11), and a backward direction reads the row from the padded end, so its Y is "
             "wrong too (0.389 for -0.020)"),
            ("test_every_opset_agrees_with_reference", r"^Y(_[hc])?\[:, \d+\] at opset.*lengths=",
             "at every opset, Y_h of a row of length 1 of 4 is the padded end's (-0.155 for 0.028), and a backward "
             "direction's Y too (0.250 for 0.367)"),
        ]
        return [*(Expected(law, IGNORED.format(what="sequence_lens", evidence=evidence), match=match,
                           versions=self.measured) for law, match, evidence in lengths),
                *(Expected(law, IGNORED.format(what=what, evidence=evidence), match=match, versions=self.measured)
                  for what, (law, match, evidence) in ATTRIBUTES.items())]

    def compile(self, model: onnx.ModelProto) -> Run:
        evaluator = ReferenceEvaluator(model)
        return lambda feeds: evaluator.run(None, feeds)
