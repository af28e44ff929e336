"""OpenCV's dnn module (``cv2.dnn.readNetFromONNX``, opencv-python-headless 5.0) running one ONNX
``LSTM`` node on its CPU backend.

The default engine (``ENGINE_AUTO``: the new engine, falling back to the classic importer) maps
the node to its ``LSTM2`` layer (``onnx_importer2.cpp`` ``parseLSTM``, ``recurrent2_layers.cpp``),
which reads ``direction``, ``layout``, the peephole input and an activation list of Sigmoid and
Tanh, and no ``sequence_lens``, ``clip`` or ``input_forget``. Inputs go in by name
(``net.setInput(blob, name)``), outputs come back by name (``net.forward(names)``).

float32 only: given float64 it swaps the o and f gate blocks (measured with 5.0.0.93: W_o, b_o = 1
drives the forget gate, c_1 = sigmoid(1) c_0 where the operator gives c_0 / 2; float32 is right), so
every float64 law fails for that one reason (``docs/repro/opencv_lstm.py``)."""

from __future__ import annotations

import cv2
import numpy as np
import onnx

from lstm_verify.adapters._onnx import UNCLIPPED, UNCOUPLED, OnnxAdapter, Run
from lstm_verify.expected import Expected

MEASURED = "opencv-python-headless 5.0.0.93, CPU"


class OpenCvAdapter(OnnxAdapter):
    """``cv2.dnn.readNetFromONNX`` of the node's bytes, one thread (``cv2.setNumThreads(1)``)."""

    name = "opencv"
    requires = ("onnx", "cv2")
    distributions = ("onnx", "opencv-python-headless")
    dtypes = ("float32",)
    measured = "opencv-python-headless==5.0.0.93"
    ignored_by = "OpenCV's LSTM2 layer (modules/dnn/src/layers/recurrent2_layers.cpp reads none of them)"
    ignores = {
        "sequence_lens": "with sequence_lens=[1] over 2 steps, Y_h is the state after the padded step (0.0941 where "
                         "the row's own last step gives 0.1817) and Y[1] is that state, not 0",
        "clip": UNCLIPPED,
        "input_forget": UNCOUPLED,
    }

    def known_differences(self, dtype: str) -> list[Expected]:
        peepholes = (f"it reads P as [p_i, p_f, p_o] where ONNX's is [p_i, p_o, p_f]: with zero pre-activations and "
                     f"c_0 = 1, p_o = 1 gives c_1 = 0.7311 (p_o drove the forget gate) where the operator gives 0.5 "
                     f"({MEASURED})")
        return [
            *super().known_differences(dtype),
            Expected("test_peepholes_agree_with_reference", peepholes, match=r"but should be.*peepholes=True",
                     versions=self.measured),
            Expected("test_peephole_order", peepholes, match=r"^gate [fo] \(through its peephole\)",
                     versions=self.measured),
            Expected("test_reverse_equals_forward_on_reversed_input", match=r"^final [hc] \(reverse\)",
                     versions=self.measured,
                     reason=f"with direction='reverse', Y_h and Y_c are the state after the first step it runs (the "
                            f"last time step) instead of after its last (time step 0): over x = [1, 0] with g = "
                            f"tanh(x), Y = [0.1817, 0] as specified but Y_h = 0 where Y[0] = 0.1817 ({MEASURED})"),
            Expected("test_activations_agree_with_reference", versions=self.measured,
                     raises=r"ImplementationError: .*constBlobs\.count\(name\) == 1 in function 'parseLSTM'",
                     reason=f"activations other than Sigmoid and Tanh are refused: the new engine's LSTM2 raises "
                            f"'Activation function [...] is not supported', and the classic importer it falls back "
                            f"to asserts constant weights ('constBlobs.count(name) == 1', parseLSTM) ({MEASURED})"),
            Expected("test_batch_major_equals_time_major", versions=self.measured,
                     raises=r"ImplementationError: .*(inp\.data != out\.data in function 'transposeND'|"
                            r"different count of elements in function 'reshape')",
                     reason=f"layout=1 fails in its own transposes: with two directions 'Assertion failed) inp.data "
                            f"!= out.data in function transposeND', with one over more than one step 'Requested and "
                            f"source matrices have different count of elements in function reshape' ({MEASURED})"),
            Expected("test_batch_major_equals_time_major", versions=self.measured, always=False,
                     match=r"^Y_c \(layout=1, read time-major\)\.shape=\(1, 1, \d+\), but should be \(1, \d+, \d+\)",
                     reason=f"layout=1 with one direction over one step runs, but Y_c comes back in layout=0's shape "
                            f"(num_directions, batch, hidden): (1, 2, 1) for a batch of 2 where layout=1 asks (2, 1, "
                            f"1); Y and Y_h are right ({MEASURED}; docs/repro/opencv_lstm.py)"),
        ]

    def compile(self, model: onnx.ModelProto) -> Run:
        cv2.setNumThreads(1)
        net = cv2.dnn.readNetFromONNX(np.frombuffer(model.SerializeToString(), np.uint8))
        outputs = [o.name for o in model.graph.output]  # forward() must ask for every output

        def run(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
            for name, value in feeds.items():
                net.setInput(value, name)
            return [np.array(y) for y in net.forward(outputs)]
        return run
