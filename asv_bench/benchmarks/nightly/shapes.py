"""Step time of every built-in adapter at the shapes the per-commit suite (``step.lstm.TimeLSTM``,
streaming and large-batch) leaves out: PyTorch's fastrnns size (B=64, I=H=512, T=100), matmul-bound,
whose forward + backward takes seconds per call on two CPU cores; and small-hidden (B=64, I=H=32,
T=100), bound by per-call overhead as streaming is: per commit it would repeat what streaming
catches, at about a fifth of that suite's CPU time."""

import lstm_verify.asv
from benchmarks.step.lstm import CPU_ADAPTERS


class TimeLSTMNightly(lstm_verify.asv.LSTMSuite):
    target = None
    adapters = CPU_ADAPTERS
    shapes = ("small-hidden", "fastrnns")
    repeats = 3
