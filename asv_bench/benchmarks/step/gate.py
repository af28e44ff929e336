"""What the regression gate (``asv_bench/gate.py``) times: a few CPU forwards, float32, no
baselines, so that one gate run measures seconds, not the whole grid."""

import lstm_verify.asv


class GateLSTM(lstm_verify.asv.LSTMSuite):
    target = None
    adapters = ("numpy", "torch-lstm", "jax")
    shapes = ("streaming", "large-batch")
    devices = ("cpu",)
    modes = ("forward",)
    baselines = False
