"""The wide shape (H = 1024) on a GPU only: on two CPU cores one wide forward + backward of the
slower adapters takes minutes, and the point of this shape is the GPU's matmul throughput."""

import lstm_verify.asv

if "cuda" in lstm_verify.asv.devices():  # nothing is generated on a machine without a GPU
    class TimeLSTMWide(lstm_verify.asv.LSTMSuite):
        target = None
        adapters = ("paper-cell", "jax")
        shapes = ("wide",)
        devices = ("cuda",)
