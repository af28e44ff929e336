"""``lstm-verify bench``: step time of any implementation, next to baselines, checked as it is timed.

For each implementation, shape, device and precision it times one step, a sequence forward and
forward + backward through time (after PyTorch's ``benchmarks/fastrnns``: every implementation
is wrapped in a runner of the same shape), and reports per row

* microseconds per step (median over repeats after warm-up, and the spread),
* achieved FLOP/s, counting ``2 * B * 4H * (I + H)`` matmul flops per step forward and three
  times that for forward + backward (the two backward matmuls per forward one),
* the fraction of this device's matmul peak for that dtype, measured in the same run,
* the ratio of its time to the baselines run in the same process on the same device: torch
  ``nn.LSTM`` (cuDNN on a GPU), the ``nn.LSTMCell`` loop and, on a GPU, that loop captured in
  a CUDA graph,
* one agreement check of the timed call's output against the float64 reference at the row's
  precision, so a fast wrong kernel is flagged instead of reported as fast.

CUDA is timed with events (torch) or by blocking until ready (JAX, whose first call, compile
included, is reported on its own as ``first_call_s``). :mod:`lstm_verify.asv` runs the same
measurements inside asv suites.

The package, each module importing only those listed before it: :mod:`~lstm_verify.bench.shapes` (what is
benchmarked), :mod:`~lstm_verify.bench.hardware` (the devices here), :mod:`~lstm_verify.bench.runners`
(one runner per implementation), :mod:`~lstm_verify.bench.timing`, :mod:`~lstm_verify.bench.rows`
(timed and checked rows), :mod:`~lstm_verify.bench.report` (table and plot) and
:mod:`~lstm_verify.bench.cli` (the command).
"""

from lstm_verify.adapters import builtin_adapter
from lstm_verify.bench.cli import add_arguments, command
from lstm_verify.bench.hardware import Unavailable, devices, jax_gpu, torch_cuda
from lstm_verify.bench.report import plot, table
from lstm_verify.bench.rows import (KNOWN, Row, Subject, add_peaks, add_ratios, baseline_subjects,
                                    check_agreement, measure, precisions, run)
from lstm_verify.bench.runners import (CudaGraphRunner, JaxRunner, ModelRunner, Problem, Runner, TorchRunner,
                                       make_runner, storage_dtype)
from lstm_verify.bench.shapes import (BASELINES, FLOP_FACTOR, MODES, QUICK_SHAPES, SHAPES, Shape, flops_per_step,
                                      parse_shape)
from lstm_verify.bench.timing import Timing, matmul_peak, time_call

__all__ = ["BASELINES", "FLOP_FACTOR", "KNOWN", "MODES", "QUICK_SHAPES", "SHAPES", "CudaGraphRunner",
           "JaxRunner", "ModelRunner", "Problem", "Row", "Runner", "Shape", "Subject", "Timing", "TorchRunner",
           "Unavailable", "add_arguments", "add_peaks", "add_ratios", "baseline_subjects", "builtin_adapter",
           "check_agreement", "command", "devices", "flops_per_step", "jax_gpu", "make_runner", "matmul_peak",
           "measure", "parse_shape", "plot", "precisions", "run", "storage_dtype", "table", "time_call",
           "torch_cuda"]
