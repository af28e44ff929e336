"""onnx's own ``ReferenceEvaluator`` (pure NumPy) running one ONNX ``LSTM`` node, float32 and float64."""

from __future__ import annotations

import onnx
from onnx.reference import ReferenceEvaluator

from lstm_verify.adapters._onnx import OnnxAdapter, Run

IGNORED = ("its LSTM (onnx/reference/ops/op_lstm.py, 'TODO: support overridden attributes') ignores "
           "{what}; measured with onnx 1.23.2: {evidence}")


class OnnxReferenceAdapter(OnnxAdapter):
    """``onnx.reference.ReferenceEvaluator``: the operator's executable reading by the ONNX project."""

    name = "onnx-reference"
    requires = ("onnx",)

    def known_differences(self, dtype: str) -> dict[str, str]:
        evidence = {
            "test_variable_lengths": ("sequence_lens", "with sequence_lens=[1] over 2 steps, Y_h is the state "
                                                       "after the padded step (0.0054 where the row's own last "
                                                       "step gives 0.11)"),
            "test_every_opset_agrees_with_reference": ("sequence_lens", "at every opset, Y_h of a row of length 1 of "
                                                                        "4 is the padded end's (-0.155 for 0.028)"),
            "test_activations_agree_with_reference": ("activations, activation_alpha and activation_beta",
                                                      "f = Relu computes sigmoid (h 0.133 where Relu gates give 0)"),
            "test_clip_agrees_with_reference": ("clip", "clip=0.5 gives the unclipped h (0.127 for 0.240)"),
            "test_coupled_gates_agree_with_reference": ("input_forget", "input_forget=1 gives the uncoupled h "
                                                                        "(0.1831 for 0.1709)"),
        }
        return {law: IGNORED.format(what=what, evidence=ev) for law, (what, ev) in evidence.items()}

    def compile(self, model: onnx.ModelProto) -> Run:
        evaluator = ReferenceEvaluator(model)
        return lambda feeds: evaluator.run(None, feeds)
