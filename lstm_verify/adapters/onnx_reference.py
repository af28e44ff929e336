"""onnx's own ``ReferenceEvaluator`` (pure NumPy) running one ONNX ``LSTM`` node, float32 and float64."""

from __future__ import annotations

import onnx
from onnx.reference import ReferenceEvaluator

from lstm_verify.adapters._onnx import OnnxAdapter, Run
from lstm_verify.expected import Expected

IGNORED = ("its LSTM (onnx/reference/ops/op_lstm.py, 'TODO: support overridden attributes') ignores "
           "{what}; measured with onnx 1.23.2: {evidence}")


class OnnxReferenceAdapter(OnnxAdapter):
    """``onnx.reference.ReferenceEvaluator``: the operator's executable reading by the ONNX project."""

    name = "onnx-reference"
    requires = ("onnx",)

    def known_differences(self, dtype: str) -> list[Expected]:
        ignored = [  # law, what it ignores, the violation that shows it, the measured evidence
            ("test_variable_lengths", "sequence_lens", r"(\(row \d+, length \d+\)|^final [hc] of row \d+)",
             "with sequence_lens=[1] over 2 steps, Y_h is the state after the padded step (0.0054 where the row's "
             "own last step gives 0.11), and a backward direction reads the row from the padded end, so its Y is "
             "wrong too (0.389 for -0.020)"),
            ("test_every_opset_agrees_with_reference", "sequence_lens", r"^Y(_[hc])?\[:, \d+\] at opset.*lengths=",
             "at every opset, Y_h of a row of length 1 of 4 is the padded end's (-0.155 for 0.028), and a backward "
             "direction's Y too (0.250 for 0.367)"),
            ("test_activations_agree_with_reference", "activations, activation_alpha and activation_beta",
             r"but should be.*Activation\(name=", "f = Relu computes sigmoid (h 0.133 where Relu gates give 0)"),
            ("test_clip_agrees_with_reference", "clip", r"but should be.*clip=[0-9.]+",
             "clip=0.5 gives the unclipped h (0.127 for 0.240)"),
            ("test_coupled_gates_agree_with_reference", "input_forget", r"but should be.*input_forget=True",
             "input_forget=1 gives the uncoupled h (0.1831 for 0.1709)"),
        ]
        return [Expected(law, IGNORED.format(what=what, evidence=evidence), match=match, versions="onnx==1.23.2")
                for law, what, match, evidence in ignored]

    def compile(self, model: onnx.ModelProto) -> Run:
        evaluator = ReferenceEvaluator(model)
        return lambda feeds: evaluator.run(None, feeds)
