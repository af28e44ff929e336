"""lstm_verify: a conformance kit for LSTM implementations.

The float64 reference is :mod:`lstm_verify.reference`; the laws live in the ``properties``
package; :func:`check_impl` and :func:`parametrize_with_impls` check your own implementation.
"""

from lstm_verify.api import check_impl, parametrize_with_impls
from lstm_verify.implementation import Implementation, implementation
from lstm_verify.params import Case, Grads, Params

__all__ = ["Case", "Grads", "Implementation", "Params", "check_impl", "implementation", "parametrize_with_impls"]
__version__ = "0.1.0"
