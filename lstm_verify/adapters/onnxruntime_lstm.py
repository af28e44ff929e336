"""onnxruntime (CPU execution provider) running one ONNX ``LSTM`` node, opsets 7, 14 and 22.

Its CPU kernel has float32 only ("LSTM operator does not support double yet") and no
``layout=1`` ("Batchwise recurrent operations (layout == 1) are not supported", lstm_base.h),
so float64 and the batch-major law are skipped with that reason. It clips the gate
pre-activations only, after adding bias and peephole, not the input of h
(``uni_directional_lstm.cc``, ``GateComputations``): a known difference from the specification's
reading (microsoft/onnxruntime#27224; its fix, #27239, is open)."""

from __future__ import annotations

import onnx
import onnxruntime

from lstm_verify.adapters._onnx import OnnxAdapter, Run
from lstm_verify.expected import Expected


class OnnxRuntimeAdapter(OnnxAdapter):
    """``onnxruntime.InferenceSession`` on the CPU, one intra-op thread (deterministic, and fair
    to the other xdist worker)."""

    name = "onnxruntime"
    requires = ("onnx", "onnxruntime")
    dtypes = ("float32",)
    batch_major = False
    clip_reading = "gates"
    clip_evidence = ("microsoft/onnxruntime#27224, closed as stale, fix #27239 open; measured with onnxruntime "
                     "1.32.0, CPU: zero weights, b_g = 3, c_0 = 2, clip=0.5 give h_1 = 0.4214 = 0.5 tanh(c_1) "
                     "where the specification's 0.5 tanh(clip(c_1)) is 0.2311; c_1 = 1.2311 as specified")

    measured = "onnxruntime==1.32.0"

    def precision(self, dtype: str) -> str:
        """MLAS computes the LSTM's sigmoid and tanh with polynomial approximations
        (``MlasComputeLogistic``, ``MlasComputeTanh``): measured on 2M points of [-30, 30] with
        onnxruntime 1.32.0, sigmoid is up to 1.7e-7 and tanh 3.3e-7 off in absolute terms (IEEE
        float32: within 6e-8), and a sigmoid of 3e-6 is 3e-3 off relatively. Its tanh reaches
        1.0000002 (2 ulps above 1) for |z| in about [8.5, 10] and its sigmoid 1.0000001 near
        z = 16.5, so |h| = o * tanh(c) reaches 1.0000001: within what this precision allows
        (:func:`lstm_verify.error_model.range_slack`)."""
        return "approximate-activations"

    def known_differences(self, dtype: str) -> list[Expected]:
        return [*super().known_differences(dtype), Expected(
            "test_activations_agree_with_reference", versions=self.measured,
            match=r"non-finite values.*Activation\(name='Softplus'", always=False,
            reason="its Softplus is log(1 + exp(x)) in float32 and overflows for x > 88.7: with h = Softplus, "
                   "c_1 = 89 gives h_1 = inf where softplus(89) = 89 (onnxruntime 1.32.0, CPU; every other "
                   "activation in every role agrees within the error bound); only examples whose cell passes "
                   "88.7 with h = Softplus show it, and a run's examples may not reach one")]

    def compile(self, model: onnx.ModelProto) -> Run:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                               providers=["CPUExecutionProvider"])
        return lambda feeds: session.run(None, feeds)
