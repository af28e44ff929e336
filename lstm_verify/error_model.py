"""Tolerances from an error model: how far a correct implementation may be from the reference.

A fixed per-dtype tolerance cannot serve every size: the rounding error of a dot product
grows with its length and with the magnitudes it sums. Instead, for every output the kit
compares, this module computes a first-order bound on the rounding error of any
implementation that computes the LSTM's equations in the declared precision, and a value
passes when ``|got - want| <= bound`` elementwise.

The model
---------
Every quantity ``v`` of the computation carries an error scale ``e``: the standard
deviation, to first order, of the difference between the implementation's ``v`` and the
exact one. With ``u`` the unit roundoff of a format (:func:`lstm_verify.dtypes.unit_roundoff`):

* inputs and parameters are rounded to the storage format: ``e = u_s |v| + tiny`` (0 in float64,
  which holds the kit's canonical float64 arrays exactly), where
  ``tiny`` is the format's smallest normal number (an implementation may flush subnormal
  results to zero, as GPU kernels and vectorised CPU code do; it matters for float16 only),
  and every result is rounded the same way;
* a product ``a b``: ``e = sqrt((a e_b)^2 + (b e_a)^2 + (u_s a b)^2)`` (the operands' errors,
  and the rounding of the result to storage); a sum likewise, with ``sqrt(e_a^2 + e_b^2 + (u_s (a + b))^2)``.
  Errors from different sources are independent roundings of mean zero, so they add in
  quadrature, as they do everywhere below;
* an activation ``y = phi(a)``: ``e = sqrt((phi'(a) e_a)^2 + (k u_s max(|y|, 1))^2) + delta``, where
  ``|phi'| <= 1/4`` (sigmoid) or ``<= 1`` (tanh) is the Lipschitz factor evaluated where it
  applies, ``k`` the activation's own error in ulps of its range (:data:`OWN_ULPS`: by dtype and
  ``|a|``, from 2 to 11 units, measured on the libraries and every built-in column; absolute below 1: a sigmoid
  computed as ``(1 + tanh(z / 2)) / 2``, as XLA and many kernels do, is accurate to ``u``, not
  to ``u |y|``, for very negative ``z``, and that is no defect) and ``delta`` the absolute error
  of an approximate activation (added in full: an approximation's error is not random);
* a reduction of ``n`` terms ``t_k = a_k b_k`` (a matrix product: the pre-activation
  ``z = [x, h, 1, 1] [W_ih; W_hh; b_ih; b_hh]^T`` has ``n = I + H + 2``): the quadrature sum of
  the carried errors ``sqrt(sum_k (a_k e_bk)^2 + (b_k e_ak)^2)``, the operands' rounding to a
  matmul format ``sqrt(2) u_op sqrt(sum_k t_k^2)``, the accumulation error
  ``u_acc sqrt(n r^2 + sum_k t_k^2)`` and the result's rounding ``u_s |z|``. The accumulation
  error: addition ``k`` of a sum rounds its partial sum ``s_k``, an error in ``[-u |s_k|, u |s_k|]``
  (the product ``t_k`` too, without FMA), so by Hoeffding the sum's error exceeds
  ``lambda u sqrt(sum_k s_k^2 + sum_k t_k^2)`` with probability at most ``2 exp(-lambda^2 / 2)``
  (rounding to nearest, errors independent and of mean zero). With the terms in an order
  unrelated to their values (the kit's random data; any fixed order a kernel uses), ``s_k = (k /
  n) z + b_k`` with ``b`` a Brownian bridge of scale ``sigma = sqrt(sum_k t_k^2)``, so by Minkowski
  ``sqrt(sum_k s_k^2) <= sqrt(n) (|z| / sqrt(3) + sigma sqrt(X))``, ``X`` the bridge's mean square
  (mean 1/6, ``P(X > x) ~ exp(-pi^2 x / 2)``). The model takes ``r = min(|z| / sqrt(3) + BRIDGE
  sigma, sum_k |t_k|)`` (every partial sum is at most ``sum_k |t_k|``, Higham and Mary's worst
  case, SIAM J. Sci. Comput. 41(5), 2019): a heavy path and unlucky roundings together exceed
  ``lambda`` with probability ``exp(-min_x (pi^2 x / 2 + lambda^2 BRIDGE^2 / (2 x))) =
  exp(-pi lambda BRIDGE)``, 1e-12 at ``BRIDGE = 1.1``. That covers the orders real kernels use: a
  sequential loop (the largest partial sums), blocked BLAS and pairwise sums (smaller ones).
  ``u_op`` is the rounding of the operands to a matmul format coarser than storage (TF32); zero
  otherwise.

Quantized weights (``int8-weights``, LiteRT's dynamic-range quantization): the converter rounds
each weight to int8 with a symmetric scale ``s = max |w| / 127`` over the weight's output channel
(``FULLY_CONNECTED``) or over its gate's matrix (``-per-gate``: the fused LSTM op's eight), so
``w`` carries an error in ``[-s/2, s/2]`` (:func:`int8_scales`); a tensor under
:data:`MIN_ELEMENTS` stays float, and the fused op quantizes all eight or none. The hybrid kernels
quantize each batch row of a matmul's float input ``a`` at run time, asymmetric over its range with
zero: step ``q = (max(a, 0) - min(a, 0)) / 255``, an error in ``[-q/2, q/2]`` per element
(:func:`input_steps`); products of the int8 values are summed exactly in int32 and scaled back in
float. Both are bounded, independent and of mean zero over the kit's random data, so they enter
the model as any rounding does: in quadrature with the storage rounding of the weight (``e``
gains ``s/2``; the worst case ``w``, below, ``s/2`` in full) and of the input where it enters the
matmul (``q/2``), and the matmul's carried error is ``sqrt(sum_k (a_k s/2)^2 + (w_k q/2)^2)``,
``LAMBDA`` of which bounds it by Hoeffding as for the accumulation. The weights' error is the same
at every step, but it meets a fresh input at each one, so its contributions to different steps add
in quadrature as the others do. A half step is about 0.4 % of the largest weight: first order still
(the products of two quantization errors are ignored).

Full integer (``int8``, LiteRT's full-integer quantization with a representative data set): every
tensor of the cell is int8. Weights as above, per output channel, with no size floor; the bias
(``b_ih + b_hh``, one tensor) and every activation tensor asymmetric, at the step the converter
calibrates over the representative data set, ``(max(v, 0) - min(v, 0)) / 255`` over the tensor's values
(:func:`calibrated_step`); sigmoid's output at 1/256 and tanh's at 1/128, whatever the data. The kit
calibrates on the case's own inputs, so the steps are computed from the float64 reference's values
where the model is (``x`` over all steps, ``h_0``, ``c_0``, each matmul's, each sum's, each product's,
``c``'s; ``h`` over all steps: the converter stacks the outputs, which gives every ``h_t`` one scale;
an ``ADD``'s first operand over its values and the sum's, as the calibrator records it, reading the
operand after the ``ADD`` has run in place, except where the sum is the model's output ``c_T``). Each rounding adds at most half its step: in full to
``w``, and a uniform rounding's standard deviation ``step / sqrt(12)`` to ``e`` in quadrature. The
integer kernels sum exactly in int32 and requantize once per op, so an op's rounding is its output
tensor's, and the rules above carry the rest.

The recurrence needs no special treatment: the cell update ``c' = f c + i g`` carries
``f e_c`` forward (the carousel keeps errors as it keeps values), the next step's
pre-activations read ``h``'s error through ``W_hh``, and fresh errors of different steps are
independent, so they add in quadrature: over ``T`` steps of a contracting recurrence the
bound grows like ``sqrt(T)``, and like the recurrence itself where it expands. Gradients
follow the reference's BPTT with the same rules, starting from the forward pass's errors.

Beside the scale ``e``, every quantity carries its first-order worst case ``w``: the same rules
with every error at its largest and of the same sign (a sum's ``w_a + w_b + u_s |a + b|``, a
product's ``|a| w_b + |b| w_a + u_s |a b|``, an activation's ``max |phi'| w_a + k u_s max(|y|, 1)``
with the slope at its largest over ``a +- w_a``, a reduction's carried ``|a| w_b + w_a |b|`` plus
``n u_acc sum_k |t_k|``, the worst order's accumulation, and one more ``u_s sum_k |t_k|`` where the
storage is coarser than the accumulator: a kernel may round a partial product, as torch's cell
rounds ``x W_ih^T + b_ih`` before adding ``h W_hh^T + b_hh``). It assumes nothing about the data or
the order of the terms. Where few roundings meet (a small step: a handful of terms, two
activations) it is the smaller: ``LAMBDA sqrt(m)`` exceeds ``m`` below ``m = 64`` equal terms.

A value passes when ``|got - want| <= min(LAMBDA e, w)`` plus room for the oracle's own errors
(:func:`lstm_verify.reference.oracle_dtype`). They are independent of the implementation's and
``rho`` times as large, ``rho`` the oracle's unit roundoff over the storage format's, so an IEEE
implementation's bound is ``min(sqrt(1 + rho^2) LAMBDA e, (1 + rho) w)``: where the oracle computes in
float64 and checks a float64 implementation that is ``min(sqrt(2) LAMBDA e, 2 w)``; where it computes
in x87 extended precision (``rho = 2^-11`` in float64), it hands over its values rounded to float64,
``u |want|`` more. ``LAMBDA`` is the confidence multiple of the first-order scale. ``python -m tests.catalogue.calibration`` measures the bound against
correct implementations that differ only in rounding (``tests/test_error_model_tightness.py``
keeps min bound / error where it was measured), ``python -m tests.catalogue.margins``
against the catalogue's defects (``tests/test_catalogue_margins.py``: caught where the docs say;
in the half formats and under TF32 some margins are near 1).

What the model assumes: rounding to nearest (errors of mean zero), first-order effects (a
few hundred ulps at most: products of errors are ignored), and data like the kit's
(random signs, not adversarial cancellation). It is a bound on the rounding error of the
LSTM's equations, not on other algorithms: an implementation that computes something else
(a float16 accumulator while declaring IEEE float32) misses it, which is the point.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from lstm_verify.dtypes import STORAGE, numpy_dtype, unit_roundoff
from lstm_verify.params import Grads, Params
from lstm_verify.reference import PLAIN, Activation, Variant, lstm_forward, oracle_dtype

LAMBDA = 8.0
"""The confidence multiple: a correct implementation's error exceeds LAMBDA standard deviations
with probability below 2 exp(-32), about 1e-14 per value; the accumulation's scale takes its share
(:data:`BRIDGE`)."""


@dataclass(frozen=True)
class Precision:
    """What an implementation promises about how it computes, beyond its storage dtype.

    ``operands``: the format matmul operands are rounded to (``"tf32"``), or None for the
    storage format. ``accumulate``: the format sums are accumulated in, or None for float32
    (float64 for float64 storage): IEEE implementations of half formats accumulate in float32.
    ``approximate``: the absolute error scale of approximate activations (fast exp/tanh), beyond
    the own error every IEEE activation is allowed (:data:`OWN_ULPS`).
    ``int8``: weights rounded to int8 with their matmul inputs, scaled per ``"channel"`` or per
    ``"gate"``, or every tensor int8 (``"full"``, weights per channel; module docstring), or None."""

    name: str = "ieee"
    operands: str | None = None
    accumulate: str | None = None
    approximate: float = 0.0
    int8: str | None = None


PRECISIONS: dict[str, dict[str, object]] = {
    "ieee": {},
    "tf32": {"operands": "tf32"},
    "reduced-accumulation": {"accumulate": "storage"},
    "approximate-activations": {"approximate": 2.0 ** -20},
    "int8-weights": {"int8": "channel"},
    "int8-weights-per-gate": {"int8": "gate"},
    "int8": {"int8": "full"},
}
"""The precision tokens ``--precision`` accepts, combined with ``+`` (``tf32+approximate-activations``):
``ieee`` (the default: the storage dtype's own arithmetic, float32 accumulation for half formats),
``tf32`` (float32 matmuls with TF32 operands, as cuDNN and cuBLAS do by default for RNNs),
``reduced-accumulation`` (sums accumulated in the storage format, e.g. float16 GEMM accumulators),
``approximate-activations`` (activations off by up to LAMBDA * 2^-20 = 2^-17 = 7.6e-6 absolute,
an error scale of 2^-20; cuDNN's float32 tanh(1) is 3.9e-6 off),
``int8-weights`` (LiteRT's dynamic-range quantization: W_ih and W_hh in int8, one scale per output
channel, their inputs quantized per batch row at run time; module docstring) and
``int8-weights-per-gate`` (the same with one scale per gate's matrix, as LiteRT's fused LSTM op) and
``int8`` (LiteRT's full-integer quantization: every tensor int8, activations at the steps the converter
calibrates on the case's own data; module docstring)."""

MIN_ELEMENTS = 1024
"""The fewest elements a weight tensor needs for LiteRT's converter to quantize it (measured with
ai-edge-litert 2.3.0: 1024 quantize, 961 stay float); smaller tensors stay float32."""


def int8_scales(params: Params, per: str, floor: int = MIN_ELEMENTS) -> tuple[np.ndarray, np.ndarray]:
    """The int8 scales LiteRT's converter gives W_ih's and W_hh's rows (each (4H,), the gates in
    canonical order), computed as it does, in float32: ``max |w| / 127`` over a row (``per`` =
    ``"channel"``) or over the row's gate matrix (``"gate"``); zeros where the weights stay float
    (``floor``, :data:`MIN_ELEMENTS` in dynamic-range quantization, 0 in full-integer: per tensor for
    ``"channel"``, for all eight gate matrices at once for ``"gate"``)."""
    weights = [np.abs(np.asarray(w, np.float32)) for w in (params.w_ih, params.w_hh)]
    if per == "channel":
        peaks = [w.max(axis=1, initial=0.0) for w in weights]
        kept = [w.size >= floor for w in weights]
    else:
        peaks = [np.repeat(w.reshape(4, -1).max(axis=1, initial=0.0), params.hidden_size) for w in weights]
        kept = [min(w.size for w in weights) // 4 >= floor] * 2
    return tuple(peak / np.float32(127) * keep for peak, keep in zip(peaks, kept))


def input_steps(a: np.ndarray) -> np.ndarray:
    """The step of the run-time int8 quantization of each row of ``a`` (..., n), as LiteRT's hybrid kernels
    take it (``AsymmetricQuantizeFloats``): the row's range, widened to hold zero, over 255; shape (..., 1)."""
    return (np.maximum(a.max(axis=-1, keepdims=True), 0.0) - np.minimum(a.min(axis=-1, keepdims=True), 0.0)) / 255


def calibrated_step(*values: np.ndarray) -> float:
    """The step of an int8 tensor the converter calibrates over ``values``: their range, widened to hold
    zero, over 255."""
    return (max(max(v.max() for v in values), 0.0) - min(min(v.min() for v in values), 0.0)) / 255


SIGMOID_STEP, TANH_STEP = 1 / 256, 1 / 128
"""The fixed steps of int8 sigmoid and tanh outputs (zero points -128 and 0)."""


OWN_ULPS: dict[str, dict[str, tuple[tuple[float, float], ...]]] = {
    "float64": {"Sigmoid": ((np.inf, 2.0),),
                "Tanh": ((1.0, 3.0), (2.0, 4.5), (4.0, 6.5), (8.0, 8.5), (np.inf, 11.0))},
    "float32": {"Sigmoid": ((np.inf, 3.0),),
                "Tanh": ((1.0, 3.5), (2.0, 4.5), (4.0, 6.0), (np.inf, 7.5))},
    "float16": {"Sigmoid": ((np.inf, 2.0),), "Tanh": ((np.inf, 3.0),)},
    "bfloat16": {"Sigmoid": ((np.inf, 2.0),), "Tanh": ((np.inf, 3.0),)},
}
"""Each IEEE activation's own error, in units ``u`` of the storage format (absolute below 1), by
the size of its argument: ``((edge, ulps), ...)``, ``ulps`` for ``|z| < edge``. Each is the largest
error the libraries the built-in columns compute with (NumPy, torch, XLA, TensorFlow's Eigen) showed
over millions of arguments per dtype, and every column through its cell, with a fifth more, never
falling as ``|z|`` grows; the identities hand-written kernels compute them by fit too (tanh as
``2 sigmoid(2z) - 1`` is 3.0 u off in float64 and float32, 0.9 of the allowance) (``python -m tests.catalogue.activation_sweep`` prints the libraries' and
``python -m tests.catalogue.activations`` the columns';
``tests/test_activation_allowances.py`` holds the libraries to them). XLA's and Eigen's tanh are
rational approximations whose error grows towards saturation: in float64 7.3 u (XLA) and 9.1 u
(Eigen) past |z| = 8, 3.6 u below 2; Eigen's float32 tanh reaches 6.1 u near |z| = 6.5, its
float32 sigmoid 2.5 u near 0. In the half formats the libraries round a float32 value (half a unit),
but torch's and JAX's cells compute the candidate's tanh less directly, 2.3 u off. Other activations
(the ONNX variants'): :data:`OTHER_ULPS`."""

OTHER_ULPS = 4.0
"""The own error, in ``u``, of every activation but sigmoid and tanh."""


def own_ulps(fn: Activation, z: np.ndarray, dtype: str) -> np.ndarray:
    """``fn``'s own error allowance at arguments ``z``, in units of ``dtype``'s rounding (:data:`OWN_ULPS`)."""
    bins = OWN_ULPS[dtype].get(fn.name)
    if bins is None:
        return np.full(np.shape(z), OTHER_ULPS)
    edges, ulps = zip(*bins)
    return np.asarray(ulps)[np.searchsorted(np.asarray(edges), np.abs(z), side="right")]


def range_slack(spec: str | Precision | None) -> float:
    """How far past its range (sigmoid's [0, 1], tanh's [-1, 1]) a correct activation at precision
    ``spec`` may land: 0 in IEEE arithmetic (the rounded value of a function inside its range stays
    inside it), ``LAMBDA`` times the absolute error scale of approximate activations otherwise."""
    return LAMBDA * precision(spec).approximate


def _own_error(fn: Activation, z: np.ndarray, y: np.ndarray, dtype: str) -> np.ndarray:
    """An activation's own error at its argument ``z`` and value ``y``: the module docstring's
    ``k u_s max(|y|, 1)``, ``k`` from :data:`OWN_ULPS`."""
    return own_ulps(fn, z, dtype) * unit_roundoff(dtype) * np.maximum(np.abs(y), 1.0)


def activation_allowance(fn: Activation, z: np.ndarray, y: np.ndarray, dtype: str, spec: str | Precision | None
                         ) -> np.ndarray:
    """How far a correct implementation's ``fn`` may land from its exact value ``y``, rounded to float64,
    at an argument ``z`` stored exactly: its own error, in float64 half an ulp more for the rounding of
    ``y``, and, at an approximate precision, LAMBDA times the approximation's scale."""
    z, y = np.asarray(z, np.float64), np.asarray(y, np.float64)
    rounding = 0.5 * unit_roundoff(dtype) * np.maximum(np.abs(y), 1.0) if dtype == "float64" else 0.0
    return _own_error(fn, z, y, dtype) + rounding + LAMBDA * precision(spec).approximate


class PrecisionError(ValueError):
    """An unknown precision token; the message lists the known ones."""


def precision(spec: str | Precision | None = "ieee") -> Precision:
    """The :class:`Precision` named by ``spec`` (``"ieee"``, ``"tf32+approximate-activations"``...)."""
    if isinstance(spec, Precision):
        return spec
    tokens = [t.strip() for t in (spec or "ieee").split("+") if t.strip()]
    unknown = [t for t in tokens if t not in PRECISIONS]
    if unknown or not tokens:
        raise PrecisionError(f"unknown precision {unknown[0] if unknown else spec!r}; "
                             f"combine with '+' from {', '.join(PRECISIONS)}")
    result = Precision("+".join(tokens))
    for token in tokens:
        result = replace(result, **PRECISIONS[token])
    return result


@dataclass(frozen=True)
class _Units:
    """Unit roundoffs for one storage dtype and precision."""

    store: float
    operand: float
    accumulate: float
    dtype: str
    approximate: float
    tiny: float
    inputs: float
    """The rounding of the inputs and parameters to storage: 0 in float64, where the canonical
    float64 arrays are stored exactly."""

    @classmethod
    def of(cls, dtype: str, p: Precision) -> _Units:
        store = unit_roundoff(dtype)
        operand = unit_roundoff(p.operands) if p.operands else store
        if p.accumulate == "storage":
            accumulate = store
        else:
            accumulate = unit_roundoff(p.accumulate or ("float64" if dtype == "float64" else "float32"))
        return cls(store, operand if operand > store else 0.0, accumulate, dtype, p.approximate,
                   float(np.finfo(numpy_dtype(dtype)).smallest_normal), 0.0 if dtype == "float64" else store)


class _E:
    """A value, its first-order error scale ``e`` and its first-order worst-case error ``w``, float64
    arrays of one shape; ``w`` is None once it has outgrown float32 (an expanding recurrence over
    hundreds of steps), where the sub-Gaussian bound is the smaller by far."""

    __slots__ = ("v", "e", "w", "squares")

    def __init__(self, v: np.ndarray, e: np.ndarray, w: np.ndarray | None) -> None:
        self.v, self.e, self.w = v, e, w
        self.squares: tuple[np.ndarray, ...] | None = None
        """``(v^2, (e / u_s)^2, |v|, w / u_s)`` in float32, kept once a matrix product has needed
        them: the weights are an operand of every step's products."""

    def __getitem__(self, index: object) -> _E:
        return _E(self.v[index], self.e[index], None if self.w is None else self.w[index])


class _Arithmetic:
    """The error propagation rules of the module docstring, for one set of units."""

    def __init__(self, units: _Units) -> None:
        self.u = units

    def stored(self, v: np.ndarray) -> _E:
        """A canonical float64 input or parameter, rounded to storage."""
        v = np.asarray(v, np.float64)
        if not self.u.inputs:
            return self.exact(v)
        e = self.u.inputs * np.abs(v) + self.u.tiny
        return _E(v, e, e.copy())

    def exact(self, v: np.ndarray) -> _E:
        v = np.asarray(v, np.float64)
        return _E(v, np.zeros_like(v), np.zeros_like(v))

    def _round(self, v: np.ndarray, e: np.ndarray, w: np.ndarray | None) -> _E:
        """``v`` rounded to storage: its errors ``e`` and ``w`` (fresh arrays, updated in place) grow
        by ``u_s |v| + tiny``, in quadrature and in full."""
        rounding = np.abs(v)
        rounding *= self.u.store
        if w is not None:
            w += rounding
            w += self.u.tiny
        e = _quadrature(e, rounding)
        e += self.u.tiny
        return _E(v, e, w)

    def add(self, a: _E, b: _E) -> _E:
        return self._round(a.v + b.v, _quadrature(a.e, b.e), _linear(lambda: a.w + b.w, a.w, b.w))

    def mul(self, a: _E, b: _E) -> _E:
        return self._round(a.v * b.v, _quadrature(a.v * b.e, b.v * a.e),
                           _linear(lambda: np.abs(a.v) * b.w + np.abs(b.v) * a.w, a.w, b.w))

    def matmul(self, a: _E, b: _E) -> _E:
        """``a @ b``: a reduction over the last axis of ``a``. The error terms need two digits, not
        sixteen: they are computed in float32, errors scaled by the storage unit roundoff."""
        s, n = self.u.store, a.v.shape[-1]
        (av2, ae2, av_abs, aw), (bv2, be2, bv_abs, bw) = self._squares(a), self._squares(b)
        carried = av2 @ be2
        carried += ae2 @ bv2
        np.sqrt(carried, out=carried)
        carried *= s
        squares = av2 @ bv2
        magnitude = av_abs @ bv_abs
        z = a.v @ b.v
        accumulated = self.u.accumulate * _accumulation(z.astype(np.float32), squares, magnitude, n)
        carried = _quadrature(carried, accumulated)
        if self.u.operand:
            carried = _quadrature(carried, np.sqrt(2.0) * self.u.operand * np.sqrt(squares))
        worst = None
        if aw is not None and bw is not None:
            worst = av_abs @ bw
            worst += aw @ bv_abs
            worst *= s
            worst += (n * self.u.accumulate + 2.0 * self.u.operand + max(s - self.u.accumulate, 0.0)) * magnitude
            worst = worst.astype(np.float64) if np.isfinite(worst).all() else None
        return self._round(z, carried.astype(np.float64), worst)

    def _squares(self, a: _E) -> tuple[np.ndarray, ...]:
        """:attr:`_E.squares`, computed on first use."""
        if a.squares is None:
            v = a.v.astype(np.float32)
            e = (a.e / self.u.store).astype(np.float32)
            w = None if a.w is None else a.w / self.u.store
            a.squares = (v * v, e * e, np.abs(v), w.astype(np.float32) if w is not None and w.max() < 1e30 else None)
        return a.squares

    def _own(self, fn: Activation, z: np.ndarray, v: np.ndarray) -> np.ndarray:
        return _own_error(fn, z, v, self.u.dtype)

    def activation(self, a: _E, fn: Activation) -> _E:
        """``fn(a)``; its worst case takes ``|fn'|`` at its largest over ``a +- w`` (at the ends, the
        middle and the point nearest 0, where the slopes of sigmoid, tanh and their kinked kin peak)."""
        v = fn(a.v)
        own = self._own(fn, a.v, v)
        e = _quadrature(np.abs(fn.grad(a.v)) * a.e, own) + self.u.approximate
        w = None
        if a.w is not None:
            lo, hi = a.v - a.w, a.v + a.w
            slope = np.maximum.reduce([np.abs(fn.grad(x)) for x in (lo, a.v, hi, np.clip(0.0, lo, hi))])
            w = slope * a.w + own + LAMBDA * self.u.approximate
        return _E(v, e, w)

    def clip(self, a: _E, variant: Variant, where: str) -> _E:
        """The operator's ``clip`` at ``where`` (:meth:`Variant.clips`): exact, and where it bites
        the error goes with the value, but for values within reach of the clip (twice the smaller of
        ``LAMBDA e`` and ``w``, room for the oracle's errors too): an implementation's value there may
        fall on the clip's other side, and a clip moves no value by more than its error."""
        if not variant.clips(where):
            return a
        near = np.abs(a.v) <= variant.clip + _reach(a)
        return _E(variant.clipped(a.v, where), a.e * near, None if a.w is None else a.w * near)

    def clip_derivative(self, d: _E, z: _E, variant: Variant, where: str) -> _E:
        """``d`` times the derivative of the clip at ``where`` at ``z`` (1 where it does not bite, 0
        where it does): exact, but for ``z`` within reach of the clip (as :meth:`clip`) an
        implementation's may fall on the clip's other side and take the other derivative, so its
        result may be off by all of ``|d|`` there."""
        if not variant.clips(where):
            return d
        inside = variant.inside(z.v, where)
        near = np.abs(np.abs(z.v) - variant.clip) <= _reach(z)
        keep, whole = inside | near, np.abs(d.v) * near
        return _E(d.v * inside, d.e * keep + whole, _linear(lambda: d.w * keep + whole, d.w))

    def one_minus_square(self, a: _E) -> _E:
        """``1 - a^2`` (the derivative of tanh and, with ``a (1 - a)``, of sigmoid)."""
        return self._round(1.0 - a.v ** 2, 2.0 * np.abs(a.v) * a.e, _linear(lambda: 2.0 * np.abs(a.v) * a.w, a.w))

    def one_minus(self, a: _E) -> _E:
        return self._round(1.0 - a.v, a.e.copy(), _linear(lambda: a.w.copy(), a.w))

    def derivative(self, z: _E, y: _E, fn: Activation) -> _E:
        """``fn'(z)``, where ``y = fn(z)``: ``y (1 - y)`` for sigmoid and ``1 - y^2`` for tanh, as
        implementations compute them; for the other activations ``fn'(z)`` itself, its error the
        change of ``fn'`` over ``z``'s error (its second derivative's, or a kink's jump, to first
        order) and the activation's own."""
        if fn == PLAIN.f:
            return self.mul(y, self.one_minus(y))
        if fn == PLAIN.h:
            return self.one_minus_square(y)
        v = fn.grad(z.v)
        own = self._own(fn, z.v, v)

        def change(d: np.ndarray) -> np.ndarray:
            return np.maximum(np.abs(fn.grad(z.v + d) - v), np.abs(fn.grad(z.v - d) - v))

        return _E(v, change(z.e) + own + self.u.approximate,
                  _linear(lambda: change(z.w) + own + LAMBDA * self.u.approximate, z.w))


def _activation_step(fn: Activation) -> float:
    """The fixed step of a full-integer model's ``fn`` output: sigmoid's 1/256, tanh's (and others') 1/128."""
    return SIGMOID_STEP if fn == PLAIN.f else TANH_STEP


BRIDGE = 1.1
"""The mean square of a sum's partial sums, past their drift ``(k / n) z``, taken as ``BRIDGE^2 sum_k t_k^2``:
with LAMBDA = 8 a correct sum's error passes the bound but with probability exp(-pi LAMBDA BRIDGE) = 1e-12
(module docstring)."""


def _accumulation(total: np.ndarray, squares: np.ndarray, magnitude: np.ndarray, n: int) -> np.ndarray:
    """The sub-Gaussian scale, in units of ``u_acc``, of the rounding error of summing ``n`` terms
    ``t_k`` (sum ``total``, sum of squares ``squares``, sum of magnitudes ``magnitude``):
    ``sqrt(n r^2 + sum_k t_k^2)``, ``r`` the partial sums' root mean square, at most ``magnitude`` and,
    in a random order, ``|total| / sqrt(3) + BRIDGE sqrt(squares)`` (module docstring)."""
    rms = np.minimum(np.abs(total) / np.sqrt(3.0) + BRIDGE * np.sqrt(squares), magnitude)
    return np.sqrt(n * rms * rms + squares)


def _linear(worst: Callable[[], np.ndarray], *operands: np.ndarray | None) -> np.ndarray | None:
    """``worst()``, a result's worst-case error, where every operand's is tracked; None otherwise."""
    return None if any(w is None for w in operands) else worst()


def _quadrature(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``sqrt(a^2 + b^2)``, a fresh array (``np.hypot`` guards against overflow, which error
    scales never reach, at four times the cost)."""
    result = a * a
    result += b * b
    return np.sqrt(result, out=result)


def _concat(parts: list[_E], axis: int) -> _E:
    worst = [p.w for p in parts]
    return _E(np.concatenate([p.v for p in parts], axis), np.concatenate([p.e for p in parts], axis),
              _linear(lambda: np.concatenate(worst, axis), *worst))


def _stacked(parts: list[_E]) -> _E:
    worst = [p.w for p in parts]
    return _E(np.stack([p.v for p in parts]), np.stack([p.e for p in parts]), _linear(lambda: np.stack(worst), *worst))


def _rounded(a: _E, half_step: np.ndarray | float, scale: np.ndarray | float | None = None) -> _E:
    """``a`` rounded to a grid, an error of at most ``half_step`` more: in full to ``w``, and ``scale``
    (``half_step`` unless given) in quadrature to ``e``."""
    scale = half_step if scale is None else scale
    return _E(a.v, _quadrature(a.e, np.broadcast_to(scale, a.e.shape)), None if a.w is None else a.w + half_step)


def _int8(a: _E, step: float) -> _E:
    """``a`` requantized to int8 at ``step`` (full-integer): at most half a step off, a uniform rounding's
    ``step / sqrt(12)`` in scale."""
    return _rounded(a, step / 2, step / np.sqrt(12.0))


def _reach(a: _E) -> np.ndarray:
    """How far an implementation's value may lie from the oracle's ``a`` on either side, with room
    for the oracle's own errors: twice the smaller of ``LAMBDA e`` and ``w``."""
    return 2.0 * (LAMBDA * a.e if a.w is None else np.minimum(LAMBDA * a.e, a.w))


@dataclass(frozen=True)
class ForwardBounds:
    """Bounds on |got - want| for the reference's hs and cs, each (T, B, H)."""

    hs: np.ndarray
    cs: np.ndarray


class _Model:
    """The forward and backward error propagation for one storage dtype and precision."""

    def __init__(self, dtype: str, p: Precision, oracle: np.dtype) -> None:
        self.ar, self.int8, self.full = _Arithmetic(_Units.of(dtype, p)), p.int8, p.int8 == "full"
        rho = np.finfo(oracle).eps / 2 / unit_roundoff(dtype) if p == Precision() else 0.0
        self.k, self.k_worst = LAMBDA * np.sqrt(1.0 + rho ** 2), 1.0 + rho
        """The multiples of ``e`` and ``w`` the bound allows: LAMBDA and 1, and room for the oracle's own
        errors, independent of the implementation's and ``rho`` times as large (its unit roundoff over
        the implementation's): a float64 oracle checking a float64 implementation doubles ``w``."""
        self.rounding = unit_roundoff("float64") if np.finfo(oracle).nmant > 52 else 0.0
        """An oracle wider than float64 hands its values over rounded to float64: ``u |v|`` more."""

    def bound(self, x: _E) -> np.ndarray:
        """How far an implementation's ``x`` may be from the oracle's: ``min(k e, k_worst w) + rounding |v|``."""
        bound = self.k * x.e
        bound = bound if x.w is None else np.minimum(bound, self.k_worst * x.w)
        return bound + self.rounding * np.abs(x.v)

    def _weights(self, p: Params) -> tuple[_E, tuple[bool, bool]]:
        """[W_ih; W_hh; b_ih; b_hh]^T, (I + H + 2, 4H), stored (and quantized: half a scale more per
        weight; in full-integer the bias too, at its calibrated step), and whether W_ih's and W_hh's
        inputs are quantized per row at run time (dynamic range)."""
        w = self.ar.stored(np.concatenate([p.w_ih.T, p.w_hh.T, p.b_ih[None], p.b_hh[None]]))
        if not self.int8:
            return w, (False, False)
        scales = int8_scales(p, "channel", 0) if self.full else int8_scales(p, self.int8)
        rows = [np.broadcast_to(s / 2.0, m.T.shape) for s, m in zip(scales, (p.w_ih, p.w_hh))]
        bias = calibrated_step(p.b_ih + p.b_hh) / 2.0 if self.full else 0.0
        half_steps = np.concatenate([*rows, np.full((1, w.e.shape[1]), bias), np.zeros((1, w.e.shape[1]))])
        return _rounded(w, half_steps), (not self.full and bool(scales[0].any()),
                                         not self.full and bool(scales[1].any()))

    def _q(self, a: _E, *calibration: np.ndarray, step: float | None = None) -> _E:
        """``a`` as a full-integer model stores it: requantized at ``step``, or at the step calibrated over
        ``calibration`` (``a``'s own values unless given); unchanged in other precisions."""
        if not self.full:
            return a
        return _int8(a, calibrated_step(*(calibration or (a.v,))) if step is None else step)

    @staticmethod
    def _quantized(a: _E, quantized: bool) -> _E:
        """``a`` as a hybrid kernel reads it: quantized per row (:func:`input_steps`) if its weights are."""
        return _rounded(a, np.broadcast_to(input_steps(a.v) / 2.0, a.e.shape)) if quantized else a

    def forward(self, p: Params, xs: _E, h: _E, c: _E, variant: Variant = PLAIN
                ) -> tuple[list[_E], list[_E], list[_E], list[list[_E]]]:
        """hs, cs, gates (i, f, g, o concatenated), and the gates' pre-activations (the peephole
        terms added, before any clip; f's None when coupled) with the cell before its clip, of every
        step, as values with errors, for the plain LSTM or an ONNX ``variant`` (peepholes, clip,
        coupled gates, other activations)."""
        ar, (w, (x_int8, h_int8)) = self.ar, self._weights(p)
        h_step = None
        if self.full:  # the model's inputs quantized; every h_t shares one step (the stacked output's)
            xs, h, c = self._q(xs), self._q(h), self._q(c)
            h_step = calibrated_step(lstm_forward(p, xs.v, h.v, c.v, np.float64, variant).hs)
        w_hr = ar.stored(p.w_hr.T) if p.w_hr is not None else None
        peep = ar.stored(p.p.reshape(3, -1)) if variant.peepholes else None
        ones = ar.exact(np.ones((h.v.shape[0], 2)))
        hidden = p.hidden_size
        hs, cs, gates, pres = [], [], [], []

        def gate(z: _E, k: int, fn: Activation, cell: _E | None = None) -> tuple[_E, _E]:
            z = z[:, k * hidden:(k + 1) * hidden]
            if cell is not None and peep is not None:
                z = ar.add(z, ar.mul(peep["ifo".index("ifgo"[k])], cell))
            return z, self._q(ar.activation(ar.clip(z, variant, "gates"), fn), step=_activation_step(fn))

        for t in range(xs.v.shape[0]):
            z = ar.matmul(_concat([self._quantized(xs[t], x_int8), self._quantized(h, h_int8), ones], axis=1), w)
            if self.full:  # x W_ih^T, h W_hh^T, their sum and the bias's each requantized by its op
                xw, hw = xs.v[t] @ p.w_ih.T, h.v @ p.w_hh.T
                for values in ((xw, xw + hw), (hw,), (xw + hw, z.v), (z.v,)):
                    z = self._q(z, *values)
            zi, i = gate(z, 0, variant.f, c)
            zf, f = (None, ar.one_minus(i)) if variant.input_forget else gate(z, 1, variant.f, c)
            zg, g = gate(z, 2, variant.g)
            kept, written = ar.mul(f, c), self._q(ar.mul(i, g))
            in_place = (kept.v + written.v,) if t + 1 < len(xs.v) else ()  # c_T, an output, is not in place
            c_in = ar.add(self._q(kept, kept.v, *in_place), written)
            c = self._q(ar.clip(c_in, variant, "cell"))
            zo, o = gate(z, 3, variant.f, c)
            tanh_c = self._q(ar.activation(ar.clip(c, variant, "h"), variant.h), step=_activation_step(variant.h))
            h = self._q(ar.mul(o, tanh_c), step=h_step)
            if w_hr is not None:
                h = ar.matmul(h, w_hr)
            hs.append(h)
            cs.append(c)
            gates.append(_concat([i, f, g, o], axis=1))
            pres.append([zi, zf, zg, zo, c_in])
        return hs, cs, gates, pres

    def backward(self, p: Params, xs: _E, h0: _E, c0: _E, gh: _E, gc: _E, variant: Variant = PLAIN) -> Grads:
        """Error scales of every gradient of the reference's BPTT, in ``variant`` (see
        :func:`reference.lstm_backward`): a clip that bites passes no gradient, exactly, but within
        reach of it either derivative may be an implementation's (:meth:`_Arithmetic.clip_derivative`)."""
        ar, hidden = self.ar, p.hidden_size
        hs, cs, gates, pres = self.forward(p, xs, h0, c0, variant)
        w_ih, w_hh = ar.stored(p.w_ih), ar.stored(p.w_hh)
        peep = ar.stored(p.p.reshape(3, -1)) if variant.peepholes else None
        ones = ar.exact(np.ones((1, h0.v.shape[0])))
        dw_ih = dw_hh = db = dp = None
        dxs = []
        dh_next, dc_next = ar.exact(np.zeros_like(h0.v)), gc

        def dz(d: _E, z: _E, y: _E, fn: Activation) -> _E:
            """``d`` through the activation ``y = fn(clip(z))``."""
            slope = ar.derivative(ar.clip(z, variant, "gates"), y, fn)
            return ar.mul(d, ar.clip_derivative(slope, z, variant, "gates"))

        for t in reversed(range(xs.v.shape[0])):
            i, f, g, o = (gates[t][:, k * hidden:(k + 1) * hidden] for k in range(4))
            zi, zf, zg, zo, c_in = pres[t]
            c, (c_prev, h_prev) = cs[t], ((cs[t - 1], hs[t - 1]) if t else (c0, h0))
            h_in = ar.clip(c, variant, "h")
            h_act = ar.activation(h_in, variant.h)
            dh = ar.add(gh[t], dh_next)
            dzo = dz(ar.mul(dh, h_act), zo, o, variant.f)
            dc = ar.add(dc_next, ar.mul(ar.mul(dh, o), ar.clip_derivative(ar.derivative(h_in, h_act, variant.h), c,
                                                                          variant, "h")))
            if peep is not None:
                dc = ar.add(dc, ar.mul(dzo, peep[2]))
            dc = ar.clip_derivative(dc, c_in, variant, "cell")
            di, df = ar.mul(dc, g), ar.mul(dc, c_prev)
            if variant.input_forget:  # f = 1 - i
                di, dzf = ar.add(di, _E(-df.v, df.e, df.w)), ar.exact(np.zeros_like(df.v))
            else:
                dzf = dz(df, zf, f, variant.f)
            dzi = dz(di, zi, i, variant.f)
            dzg = dz(ar.mul(dc, i), zg, g, variant.g)
            dzs = _concat([dzi, dzf, dzg, dzo], axis=1)
            dz_t = _E(dzs.v.T, dzs.e.T, _linear(lambda: dzs.w.T, dzs.w))
            terms = ar.matmul(dz_t, xs[t]), ar.matmul(dz_t, h_prev), ar.matmul(ones, dzs)
            dw_ih, dw_hh, db = terms if dw_ih is None else (ar.add(a, b) for a, b in zip((dw_ih, dw_hh, db), terms))
            dxs.append(ar.matmul(dzs, w_ih))
            dh_next = ar.matmul(dzs, w_hh)
            dc_next = ar.mul(dc, f)
            if peep is not None:
                dc_next = ar.add(dc_next, ar.add(ar.mul(dzi, peep[0]), ar.mul(dzf, peep[1])))
                step = _concat([ar.matmul(ones, ar.mul(dzk, ck)) for dzk, ck in ((dzi, c_prev), (dzf, c_prev),
                                                                                 (dzo, c))], axis=1)
                dp = step if dp is None else ar.add(dp, step)
        b = self.bound(db)[0]
        return Grads(self.bound(_stacked(dxs[::-1])), self.bound(dh_next), self.bound(dc_next), self.bound(dw_ih),
                     self.bound(dw_hh), b, b.copy(), None if dp is None else self.bound(dp)[0])


def _states(model: _Model, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray) -> tuple[_E, _E, _E]:
    ar = model.ar
    return ar.stored(xs), ar.stored(h0), ar.stored(c0)


def _model(dtype: str, p: Precision | str | None, params: Params, xs: np.ndarray, h0: np.ndarray) -> _Model:
    """The model for ``dtype`` and ``p``, checked against the oracle's run of ``params`` over ``xs`` from ``h0``."""
    if dtype not in STORAGE:
        raise ValueError(f"no error model for dtype {dtype!r}; known: {', '.join(STORAGE)}")
    return _Model(dtype, precision(p), oracle_dtype(params, xs, h0))


def forward_bounds(params: Params, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray, dtype: str,
                   prec: Precision | str | None = "ieee", variant: Variant = PLAIN) -> ForwardBounds:
    """Bounds on |implementation - reference| for every h_t and c_t of a run over xs (T, B, I)."""
    model = _model(dtype, prec, params, xs, h0)
    hs, cs, *_ = model.forward(params, *_states(model, xs, h0, c0), variant)
    return ForwardBounds(model.bound(_stacked(hs)), model.bound(_stacked(cs)))


def step_bounds(params: Params, x: np.ndarray, h: np.ndarray, c: np.ndarray, dtype: str,
                prec: Precision | str | None = "ieee", variant: Variant = PLAIN) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on |implementation - reference| for one step's (h', c')."""
    b = forward_bounds(params, x[None], h, c, dtype, prec, variant)
    return b.hs[0], b.cs[0]


def stack_bounds(layers: list[list[Params]], xs: np.ndarray, h0: np.ndarray, c0: np.ndarray, dtype: str,
                 prec: Precision | str | None = "ieee", variant: Variant = PLAIN
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bounds for :func:`reference.stack_forward`'s outputs (T, B, D * P), h_n and c_n, every cell the
    LSTM ``variant``: each layer reads the previous layer's outputs with their errors."""
    inputs, h_n, c_n = None, [], []
    for l, layer in enumerate(layers):
        outs, bounds = [], []
        for d, p in enumerate(layer):
            n = l * len(layer) + d
            model = _model(dtype, prec, p, xs, h0[n])  # each cell's oracle run: lstm_forward in stack_forward
            inputs = model.ar.stored(xs) if inputs is None else inputs
            order = slice(None, None, -1 if d else 1)
            hs, cs, *_ = model.forward(p, inputs[order], model.ar.stored(h0[n]), model.ar.stored(c0[n]), variant)
            outs.append(_stacked(hs)[order])
            bounds.append(model.bound(outs[-1]))
            h_n.append(model.bound(hs[-1]))
            c_n.append(model.bound(cs[-1]))
        inputs = _concat(outs, axis=-1)
    return np.concatenate(bounds, axis=-1), np.stack(h_n), np.stack(c_n)


def gradient_bounds(params: Params, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray, gh: np.ndarray,
                    gc: np.ndarray, dtype: str, prec: Precision | str | None = "ieee", variant: Variant = PLAIN
                    ) -> Grads:
    """Bounds on |implementation - reference| for every gradient of ``sum_t <gh_t, h_t> + <gc, c_T>``
    (dL/dp too, where ``variant`` has peepholes)."""
    model = _model(dtype, prec, params, xs, h0)
    return model.backward(params, *_states(model, xs, h0, c0), model.ar.stored(gh), model.ar.stored(gc), variant)
