"""The libraries' own sigmoid and tanh, against the allowances of :data:`lstm_verify.error_model.OWN_ULPS`.

The built-in columns compute their activations with NumPy, torch, XLA (the JAX family, keras-jax)
or TensorFlow's Eigen (tf-block, keras-tensorflow). This sweeps each library's function directly,
over many more arguments than a probe through a cell can afford, and reports the largest error per
bin of ``|z|`` in units ``u`` of the storage format (absolute below 1), as the allowance counts it.
``python -m tests.catalogue.activation_sweep [--points N]`` prints the table the allowances come from;
``tests/test_activation_allowances.py`` holds the libraries to them.
"""

from __future__ import annotations

import argparse
from typing import Callable

import numpy as np

from lstm_verify.dtypes import STORAGE, numpy_dtype, unit_roundoff
from lstm_verify.error_model import OWN_ULPS, own_ulps
from lstm_verify.probes import exact_activation, saturation
from lstm_verify.reference import PLAIN, Activation

Apply = Callable[[np.ndarray], np.ndarray]
FUNCTIONS = (PLAIN.f, PLAIN.g)
"""Sigmoid and tanh (h(c) is tanh too)."""


def numpy_sigmoid(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-z))`` in the dtype of ``z``: NumPy has no sigmoid of its own."""
    one = z.dtype.type(1)
    return one / (one + np.exp(-z))


def _numpy() -> dict[str, Apply]:
    return {"Sigmoid": numpy_sigmoid, "Tanh": np.tanh}


def _torch() -> dict[str, Apply]:
    import torch

    def run(fn: Callable) -> Apply:
        def apply(z: np.ndarray) -> np.ndarray:
            wide = torch.from_numpy(z.astype(np.float64 if z.dtype == np.float64 else np.float32))
            return fn(wide.to(getattr(torch, str(z.dtype)))).to(torch.float64).numpy()
        return apply
    return {"Sigmoid": run(torch.sigmoid), "Tanh": run(torch.tanh)}


def _jax() -> dict[str, Apply]:
    import jax
    import jax.numpy as jnp

    def run(fn: Callable) -> Apply:
        def apply(z: np.ndarray) -> np.ndarray:
            if z.dtype == np.float64 and not jax.config.jax_enable_x64:
                raise LookupError("float64 needs JAX_ENABLE_X64=1")
            return np.asarray(fn(jnp.asarray(z)), np.float64)
        return apply
    return {"Sigmoid": run(jax.nn.sigmoid), "Tanh": run(jnp.tanh)}


def _tensorflow() -> dict[str, Apply]:
    import tensorflow as tf

    def run(fn: Callable) -> Apply:
        def apply(z: np.ndarray) -> np.ndarray:
            wide = tf.constant(z.astype(np.float64 if z.dtype == np.float64 else np.float32))
            return tf.cast(fn(tf.cast(wide, getattr(tf, str(z.dtype)))), tf.float64).numpy()
        return apply
    return {"Sigmoid": run(tf.sigmoid), "Tanh": run(tf.tanh)}


def _formula(sigmoid: Callable[[np.ndarray], np.ndarray], tanh: Callable[[np.ndarray], np.ndarray]
             ) -> Callable[[], dict[str, Apply]]:
    """Activations a hand-written kernel computes from NumPy's exp and tanh by an identity, in float64 for
    float64 and in float32 for the narrower formats, rounded once to the storage format."""
    def wide(fn: Callable[[np.ndarray], np.ndarray]) -> Apply:
        def apply(z: np.ndarray) -> np.ndarray:
            with np.errstate(over="ignore"):
                return fn(z.astype(np.float64 if z.dtype == np.float64 else np.float32)).astype(z.dtype)
        return apply
    return lambda: {"Sigmoid": wide(sigmoid), "Tanh": wide(tanh)}


def sigmoid_by_tanh(z: np.ndarray) -> np.ndarray:
    """``(1 + tanh(z / 2)) / 2`` in ``z``'s dtype, as XLA computes sigmoid."""
    one = z.dtype.type(1)
    return (one + np.tanh(z / (one + one))) / (one + one)


def tanh_by_sigmoid(z: np.ndarray) -> np.ndarray:
    """``2 / (1 + exp(-2z)) - 1`` in ``z``'s dtype, as hand-written kernels compute tanh (-1 where exp overflows)."""
    one = z.dtype.type(1)
    with np.errstate(over="ignore"):
        return (one + one) / (one + np.exp(-(z + z))) - one


def _sigmoid_by_exp(z: np.ndarray) -> np.ndarray:
    one, e = z.dtype.type(1), np.exp(-np.abs(z))
    return np.where(z >= 0, one / (one + e), e / (one + e))


def _tanh_by_exp(z: np.ndarray) -> np.ndarray:
    one, e = z.dtype.type(1), np.exp(-2 * np.abs(z))
    return np.sign(z) * (one - e) / (one + e)


LIBRARIES: dict[str, Callable[[], dict[str, Apply]]] = {
    "numpy": _numpy, "torch": _torch, "xla": _jax, "eigen": _tensorflow,
    "by-each-other": _formula(sigmoid_by_tanh, tanh_by_sigmoid), "by-exp": _formula(_sigmoid_by_exp, _tanh_by_exp)}
"""Each library the built-in columns compute activations with, loaded on first use, and the identities
hand-written kernels use: ``by-each-other`` (sigmoid as ``(1 + tanh(z / 2)) / 2``, as XLA does, and tanh
as ``2 sigmoid(2z) - 1``), ``by-exp`` (``1 / (1 + e^-z)`` or ``e^z / (1 + e^z)``, and
``(1 - e^-2|z|) / (1 + e^-2|z|)`` with z's sign), each exp NumPy's."""


def arguments(fn: Activation, dtype: str, points: int) -> np.ndarray:
    """``points`` evenly spaced arguments over [-L, L] (``L`` = :func:`~lstm_verify.probes.saturation`
    + 1) and as many drawn from N(0, L / 3) (seed 0), stored in ``dtype``, each once, as ``dtype``."""
    limit = saturation(fn, dtype) + 1.0
    drawn = np.random.default_rng(0).normal(0.0, limit / 3.0, points)
    return np.unique(np.concatenate([np.linspace(-limit, limit, points), drawn]).astype(numpy_dtype(dtype)))


def in_units(got: np.ndarray, want: np.ndarray, dtype: str) -> np.ndarray:
    """``|got - want|`` in units ``u`` of ``dtype``, absolute below 1, as the allowance counts it (in
    ``want``'s precision, as float64)."""
    return np.asarray(np.abs(got - want) / (unit_roundoff(dtype) * np.maximum(np.abs(want), 1.0)), np.float64)


def errors(apply: Apply, fn: Activation, z: np.ndarray, dtype: str) -> np.ndarray:
    """:func:`in_units` of ``apply(z)`` against ``fn(z)`` in extended precision, not rounded to float64."""
    want = exact_activation(fn, z.astype(np.float64), rounded=False)
    with np.errstate(over="ignore"):
        got = np.asarray(apply(z), np.float64).astype(np.longdouble)
    return in_units(got, want, dtype)


def bins(fn: Activation, dtype: str) -> list[tuple[float, float, float]]:
    """``(low, high, allowance)`` of each bin of ``|z|`` in :data:`OWN_ULPS`."""
    edges = [edge for edge, _ in OWN_ULPS[dtype][fn.name]]
    return [(low, high, float(own_ulps(fn, np.array([low]), dtype)[0])) for low, high in zip([0.0] + edges, edges)]


def worst_by_bin(apply: Apply, fn: Activation, dtype: str, points: int) -> list[tuple[float, float]]:
    """Per bin of :func:`bins`: the largest error in ``u`` and the argument where it is."""
    z = arguments(fn, dtype, points)
    err, size = errors(apply, fn, z, dtype), np.abs(z.astype(np.float64))
    result = []
    for low, high, _ in bins(fn, dtype):
        inside = np.flatnonzero((size >= low) & (size < high))
        k = inside[np.argmax(err[inside])] if inside.size else None
        result.append((0.0, np.nan) if k is None else (float(err[k]), float(z[k])))
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=4_000_000, help="evenly spaced arguments (as many drawn)")
    parser.add_argument("--dtypes", default=",".join(STORAGE))
    args = parser.parse_args()
    print("| library | dtype | function | largest error per bin of abs(z): u at z (allowed) |")
    print("| --- | --- | --- | --- |")
    for dtype in args.dtypes.split(","):
        for fn in FUNCTIONS:
            spans = ", ".join(f"[{low:g}, {high:g}): {allowed:g} u" for low, high, allowed in bins(fn, dtype))
            print(f"| allowed | {dtype} | {fn.name} | {spans} |")
            for library, load in LIBRARIES.items():
                try:
                    found = worst_by_bin(load()[fn.name], fn, dtype, args.points)
                except (ImportError, LookupError, TypeError) as error:
                    print(f"| {library} | {dtype} | {fn.name} | not run: {error} |")
                    continue
                cells = ", ".join(f"{e:.2f} u at {z:+.5g}" for e, z in found)
                print(f"| {library} | {dtype} | {fn.name} | {cells} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
