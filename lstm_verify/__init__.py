"""lstm_verify: a conformance kit for LSTM implementations.

The float64 reference is :mod:`lstm_verify.reference`; the laws live in the ``properties``
package; :func:`check_impl` and :func:`parametrize_with_impls` check your own implementation.
"""

import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    # One intra-op thread per pytest-xdist worker, set before numpy, torch or JAX load:
    # oversubscribed thread pools made `lstm-verify check -n 2` 5x slower on 2 cores
    # (61 s -> 12 s for one torch cell, measured).
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_var, "1")
    # XLA reads only the first of these; it ignores the second (not a flag: no "--"). JAX hashes
    # the raw tokens into every persistent-cache key, so dropping it would turn every cached
    # program cold once (a CI run of about 24 min instead of 12): left for such a run.
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    # JAX takes 75% of a GPU's memory per process by default: eight workers ran torch out of
    # memory on an 80 GB H100 (measured). Allocate on demand instead.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    # Workers share JAX's compiled programs on disk, in the cache folder (lstm_verify/cache.py), so
    # a shape is compiled once per run, not once per worker (flax, a new shape: 0.3 -> 0.07 s
    # forward, 0.7 -> 0.11 s gradients).

from lstm_verify.api import check_impl, parametrize_with_impls  # noqa: E402
from lstm_verify.implementation import Implementation, implementation  # noqa: E402
from lstm_verify.params import Case, Grads, Params  # noqa: E402
from lstm_verify.reference import Variant  # noqa: E402
from lstm_verify.targets import capabilities  # noqa: E402

__all__ = ["Case", "Grads", "Implementation", "Params", "Variant", "capabilities", "check_impl", "implementation",
           "parametrize_with_impls"]
__version__ = "0.1.0"
