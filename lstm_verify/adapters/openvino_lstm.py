"""OpenVINO running one ONNX ``LSTM`` node through its ONNX front end, on the CPU plugin.

float32 only: given float64 the CPU plugin computes in float32 and returns float64 (measured with
openvino 2026.4.1: one step 1.5e-8 from the float64 reference, 1e6 times the float64 bound, the
size of float32 rounding), so its float64 column would check float32 arithmetic."""

from __future__ import annotations

import io

import numpy as np
import onnx
import openvino

from lstm_verify.adapters._onnx import OnnxAdapter, Run
from lstm_verify.expected import Expected


class OpenVinoAdapter(OnnxAdapter):
    """``openvino.Core().read_model`` of the node's ONNX bytes, compiled for ``CPU`` with
    ``INFERENCE_PRECISION_HINT=f32`` (no bf16/f16 downcast on CPUs that have them), one stream."""

    name = "openvino"
    requires = ("onnx", "openvino")
    dtypes = ("float32",)
    measured = "openvino==2026.4.1"
    clip_reading = "gates"
    clip_evidence = ("its reference LSTMCell calls clip_activation(Ct, activation_h, false), the clip turned off "
                     "for h (src/core/reference/include/openvino/reference/lstm_cell.hpp); no upstream issue found; "
                     "measured with openvino 2026.4.1, ONNX front end, CPU: zero weights, b_g = 3, c_0 = 2, "
                     "clip=0.5 give h_1 = 0.4214 = 0.5 tanh(c_1) where the specification's 0.5 tanh(clip(c_1)) "
                     "is 0.2311; c_1 = 1.2311 as specified")

    def known_differences(self, dtype: str) -> list[Expected]:
        version = "openvino 2026.4.1, ONNX front end, CPU"
        peepholes = (f"the ONNX front end drops the LSTM's P input (the compiled model has no input P; "
                     f"LSTMSequence has no peepholes), so peepholes are ignored ({version})")
        measured = self.measured
        return [
            *super().known_differences(dtype),
            Expected("test_peepholes_agree_with_reference", peepholes, match=r"but should be.*peepholes=True",
                     versions=measured),
            Expected("test_peephole_order", peepholes, match=r"^gate [ifo] \(through its peephole\)", versions=measured),
            Expected("test_coupled_gates_agree_with_reference", match=r"but should be.*input_forget=True",
                     versions=measured, reason=f"input_forget=1 is ignored: h 0.1831 where the coupled cell gives "
                                               f"0.1709, the uncoupled LSTM's value ({version})"),
            Expected("test_activations_agree_with_reference", versions=measured,
                     raises=r"ImplementationError: (Unsupported activation function|Unknown activation function)",
                     reason=f"only Sigmoid, Tanh and Relu are implemented: HardSigmoid raises 'Unsupported activation "
                            f"function', Softsign 'Unknown activation function: softsign' ({version})"),
            Expected("test_batch_major_equals_time_major", versions=measured,
                     raises=r"ImplementationError: .*(Squeeze|cannot reshape array of size 0)",
                     reason=f"layout=1 is read as layout=0: the compiled Y has the time-major shape [?, 1, ?, ?], so a "
                            f"batch-major initial_h (B, 1, H) fails in a Squeeze ('Can not clone with new dims') and, "
                            f"for a batch of one, Y comes back empty ('cannot reshape array of size 0') ({version})"),
        ]

    def compile(self, model: onnx.ModelProto) -> Run:
        core = openvino.Core()
        compiled = core.compile_model(core.read_model(io.BytesIO(model.SerializeToString())), "CPU",
                                      {"INFERENCE_PRECISION_HINT": "f32", "NUM_STREAMS": "1",
                                       "INFERENCE_NUM_THREADS": "1"})
        names = [o.any_name for o in compiled.outputs]
        inputs = {i.any_name for i in compiled.inputs}  # the front end may drop an input (P)

        def run(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
            out = compiled({k: v for k, v in feeds.items() if k in inputs})
            by_name = {o.any_name: v for o, v in out.items()}
            return [np.array(by_name[n]) for n in names]
        return run
