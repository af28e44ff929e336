"""Every library the built-in columns compute activations with, and every identity hand-written
kernels compute them by (``2 sigmoid(2z) - 1``, ``e^z / (1 + e^z)``, ...), stays within the own-error
allowance the error model gives sigmoid and tanh (:data:`lstm_verify.error_model.OWN_ULPS`), at every
argument of a dense sweep: an allowance below a library's real error would fail correct
implementations, and would make the docs' claim about what the bound allows false."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_verify.dtypes import STORAGE
from lstm_verify.error_model import own_ulps

from tests.catalogue.activation_sweep import FUNCTIONS, LIBRARIES, arguments, errors

POINTS = 200_000
"""Evenly spaced arguments per function and dtype (as many drawn): a twentieth of the sweep the
allowances were measured on, so the largest errors it meets are a little below theirs."""


@pytest.mark.parametrize("dtype", STORAGE)
@pytest.mark.parametrize("library", LIBRARIES)
def test_library_within_allowance(library: str, dtype: str) -> None:
    try:
        functions = LIBRARIES[library]()
    except ImportError as error:
        pytest.skip(f"{library}: {error}")
    for fn in FUNCTIONS:
        z = arguments(fn, dtype, POINTS)
        try:
            err = errors(functions[fn.name], fn, z, dtype)
        except LookupError as error:
            pytest.skip(f"{library} {dtype}: {error}")
        allowed = own_ulps(fn, z.astype(np.float64), dtype)
        k = int(np.argmax(err / allowed))
        assert err[k] <= allowed[k], (f"{library}'s {fn.name} in {dtype} at z = {float(z[k])!r} is {err[k]:.3g} u off, "
                                      f"where OWN_ULPS allows {allowed[k]:g} u "
                                      f"(python -m tests.catalogue.activation_sweep --dtypes {dtype})")
