"""onnx's own ``ReferenceEvaluator`` (pure NumPy) running one ONNX ``LSTM`` node, float32 and float64."""

from __future__ import annotations

import onnx
from onnx.reference import ReferenceEvaluator

from lstm_verify.adapters._onnx import ACTIVATION_ATTRIBUTES, UNCLIPPED, OnnxAdapter, Run


class OnnxReferenceAdapter(OnnxAdapter):
    """``onnx.reference.ReferenceEvaluator``: the operator's executable reading by the ONNX project."""

    name = "onnx-reference"
    requires = ("onnx",)

    measured = "onnx==1.23.2"
    ignored_by = ("onnx's ReferenceEvaluator LSTM (onnx/reference/ops/op_lstm.py, 'TODO: support overridden "
                  "attributes')")
    ignores = {
        "sequence_lens": "with sequence_lens=[1] over 2 steps, Y_h is the state after the padded step (0.0054 where "
                         "the row's own last step gives 0.11), and a backward direction reads the row from the padded "
                         "end, so its Y is wrong too (0.389 for -0.020); at every opset, Y_h of a row of length 1 of 4 "
                         "is the padded end's (-0.155 for 0.028)",
        "clip": UNCLIPPED,
        "input_forget": "input_forget=1 gives the uncoupled h (0.1831 for 0.1709)",
        ACTIVATION_ATTRIBUTES: "f = Relu computes sigmoid (h 0.133 where Relu gates give 0)",
    }

    def compile(self, model: onnx.ModelProto) -> Run:
        evaluator = ReferenceEvaluator(model)
        return lambda feeds: evaluator.run(None, feeds)
