"""Step time at PyTorch's fastrnns size (B=64, I=H=512, T=100) on every built-in adapter: a
matmul-bound size whose forward + backward takes seconds per call on two CPU cores, so it is timed
nightly; the per-commit suite (``step.lstm.TimeLSTM``) times the smaller shapes."""

import lstm_verify.asv
from benchmarks.step.lstm import CPU_ADAPTERS


class TimeLSTMFastrnns(lstm_verify.asv.LSTMSuite):
    target = None
    adapters = CPU_ADAPTERS
    shapes = ("fastrnns",)
    repeats = 3
