"""The oracle: a NumPy LSTM and vanilla RNN, forward and BPTT, from the equations.

LSTM, gate blocks in the order i, f, g, o::

    z  = W_ih x + b_ih + W_hh h + b_hh
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);   g = tanh(z_g)
    c' = f * c + i * g
    h' = o * tanh(c')

With an output projection (torch's ``proj_size``): ``h' = W_hr (o * tanh(c'))``.
Stacks (:func:`stack_forward`): layer l reads layer l - 1's outputs; a backward
direction is the same equations over the time-reversed input, its outputs put back
in input time order and concatenated after the forward ones.

ONNX variants (:class:`Variant`, the ``LSTM`` operator's attributes; default: the plain
LSTM above). With peepholes ``p = [p_i, p_f, p_o]`` the pre-activations of i and f gain
``p_i * c`` and ``p_f * c`` (the previous cell), o's gains ``p_o * c'`` (the new cell);
``clip`` bounds values to [-clip, clip] where its reading (:data:`CLIP_READINGS`) says;
``input_forget`` couples the gates, ``f = 1 - i``; and the activations f (for i, f, o), g and
h may be any of :data:`ACTIVATIONS`. In the operator's own reading, ``spec`` (the default:
clip "is applied to the input of activations", h's included)::

    i = f(clip(z_i + p_i * c)),  f = f(clip(z_f + p_f * c)),  g = g(clip(z_g))
    c' = f * c + i * g,  o = f(clip(z_o + p_o * c')),  h' = o * h(clip(c'))

``gates`` drops the clip of h's input; ``cell`` clips no gate, but c' itself, which is then
both the output and the state carried (o's peephole and h read the clipped c').

Vanilla RNN: ``h' = tanh(W_ih x + W_hh h + b)``.

The LSTM's functions compute in :func:`oracle_dtype` unless given another ``dtype``: in x87
extended precision (64-bit significand, ``u = 2^-64``) where NumPy has it (:data:`EXTENDED`) and
the run is small enough for its unvectorised products (:data:`EXTENDED_WORK`), else in float64, and
return float64.
The extended oracle is 2048 times as accurate as any float64 implementation it checks, so a
float64 bound need not make room for the oracle's own rounding
(:mod:`lstm_verify.error_model`); the vanilla RNN computes in float64.

Losses are linear in the outputs, ``L = sum_t <gh_t, h_t> + <gc, c_T>``, so any
scalar loss can be back-propagated by passing its gradient with respect to the
outputs as ``gh`` and ``gc``. Nothing here imports a framework.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable

import numpy as np
from scipy.special import expit as sigmoid

from lstm_verify.params import Grads, Params


EXTENDED: np.dtype | None = np.dtype(np.longdouble) if np.finfo(np.longdouble).nmant == 63 else None
"""NumPy's ``longdouble`` where it is x87's 80-bit format (x86-64 Linux and macOS), which the FPU
computes in hardware; None elsewhere: where it is float64 (Windows, macOS on ARM) and where it is
IEEE quad computed in software, tens of times slower (aarch64 Linux)."""

EXTENDED_WORK = 2**24
"""The most multiply-adds (``T B (I + H) 4H`` over a run) the oracle computes in :data:`EXTENDED`:
NumPy multiplies extended matrices without BLAS, about 2e8 multiply-adds a second on x86-64 (0.08 s
here), where float64 takes 0.02 s at (32, 1024, 1024) for 2.7e8."""


def oracle_dtype(p: Params, xs: np.ndarray, h0: np.ndarray) -> np.dtype:
    """The format the oracle computes a run of ``p`` over ``xs`` (T, B, I) from ``h0`` in (module docstring)."""
    work = len(xs) * np.shape(h0)[-2] * (p.input_size + p.hidden_size) * 4 * p.hidden_size
    return EXTENDED if EXTENDED is not None and work <= EXTENDED_WORK else np.dtype(np.float64)


def _float64(trace: Trace) -> Trace:
    return Trace(*(np.asarray(a, np.float64) for a in (trace.hs, trace.cs, trace.gates, trace.pre)))


Fn = Callable[[np.ndarray, float, float], np.ndarray]

ACTIVATIONS: dict[str, tuple[Fn, Fn, tuple[float | None, float | None]]] = {
    "Sigmoid": (lambda z, a, b: sigmoid(z), lambda z, a, b: sigmoid(z) * (1 - sigmoid(z)), (None, None)),
    "Tanh": (lambda z, a, b: np.tanh(z), lambda z, a, b: 1 - np.tanh(z) ** 2, (None, None)),
    "Relu": (lambda z, a, b: np.maximum(z, 0), lambda z, a, b: (z > 0).astype(z.dtype), (None, None)),
    "HardSigmoid": (lambda z, a, b: np.clip(a * z + b, 0, 1),
                    lambda z, a, b: a * ((a * z + b > 0) & (a * z + b < 1)), (0.2, 0.5)),
    "Affine": (lambda z, a, b: a * z + b, lambda z, a, b: np.full_like(z, a), (1.0, 0.0)),
    "LeakyRelu": (lambda z, a, b: np.where(z >= 0, z, a * z), lambda z, a, b: np.where(z >= 0, 1, a).astype(z.dtype),
                  (0.01, None)),
    "ThresholdedRelu": (lambda z, a, b: np.where(z > a, z, 0), lambda z, a, b: (z > a).astype(z.dtype), (1.0, None)),
    "ScaledTanh": (lambda z, a, b: a * np.tanh(b * z), lambda z, a, b: a * b * (1 - np.tanh(b * z) ** 2),
                   (None, None)),
    "Elu": (lambda z, a, b: np.where(z >= 0, z, a * np.expm1(np.minimum(z, 0))),
            lambda z, a, b: np.where(z >= 0, 1, a * np.exp(np.minimum(z, 0))).astype(z.dtype), (1.0, None)),
    "Softsign": (lambda z, a, b: z / (1 + np.abs(z)), lambda z, a, b: 1 / (1 + np.abs(z)) ** 2, (None, None)),
    "Softplus": (lambda z, a, b: np.logaddexp(0, z), lambda z, a, b: sigmoid(z), (None, None)),
}
"""The ONNX RNN activations by name: (function, derivative, default (alpha, beta)). The
defaults are the ONNX operators' (LeakyRelu 0.01, HardSigmoid 0.2/0.5, Affine 1/0,
ThresholdedRelu 1, Elu 1); ScaledTanh has none and needs both."""
TAKES = {"Affine": "ab", "LeakyRelu": "a", "ThresholdedRelu": "a", "ScaledTanh": "ab", "HardSigmoid": "ab", "Elu": "a"}
"""Which of alpha (a) and beta (b) each activation takes; the others take neither."""


@dataclass(frozen=True)
class Activation:
    """One of :data:`ACTIVATIONS` with its ``alpha`` and ``beta`` (None: the ONNX default)."""

    name: str
    alpha: float | None = None
    beta: float | None = None

    def args(self) -> tuple[float, float]:
        """(alpha, beta) with the ONNX defaults filled in (0 where the activation takes none)."""
        default = ACTIVATIONS[self.name][2]
        alpha = self.alpha if self.alpha is not None else default[0]
        beta = self.beta if self.beta is not None else default[1]
        if self.name == "ScaledTanh" and (alpha is None or beta is None):
            raise ValueError("ScaledTanh has no default alpha and beta")
        return alpha or 0.0, beta or 0.0

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return ACTIVATIONS[self.name][0](z, *self.args())

    def grad(self, z: np.ndarray) -> np.ndarray:
        """The derivative at ``z``."""
        return ACTIVATIONS[self.name][1](z, *self.args())


CLIP_READINGS: dict[str, tuple[tuple[str, ...], str]] = {
    "spec": (("gates", "h"), "clips every activation's input, h(c_t)'s included (the ONNX specification)"),
    "gates": (("gates",), "clips the gate pre-activations only, not the input of h"),
    "cell": (("cell",), "clips no gate but the cell state c_t itself, output and carried clipped"),
}
"""The readings of ``clip``: where each applies it (of ``gates``, the input of ``h``, the
``cell`` state) and what that says. ``spec``: the ONNX ``LSTM`` operator; ``gates``: what
onnxruntime and OpenVINO compute; ``cell``: TensorFlow's ``LSTMBlockCell(cell_clip=)``
(``lstm_ops.cc``, ``LSTMBlockCellFpropWithEigen``: ``cs`` clipped after its update, then
``co = tanh(cs)`` and o's peephole read it; no gate is clipped). :func:`lstm_backward`
differentiates what each computes (no gradient through a clip that bites), where TensorFlow's
``LSTMBlockCellBprop`` passes the clipped cell's gradient through unmasked."""


@dataclass(frozen=True)
class Variant:
    """What the ONNX ``LSTM`` operator can change about the cell (module docstring); the
    default is the plain LSTM. ``peepholes`` uses the parameters' ``p``; ``clip_reading``
    (of :data:`CLIP_READINGS`) says where ``clip`` applies."""

    f: Activation = Activation("Sigmoid")
    g: Activation = Activation("Tanh")
    h: Activation = Activation("Tanh")
    peepholes: bool = False
    clip: float | None = None
    clip_reading: str = "spec"
    input_forget: bool = False

    def __post_init__(self) -> None:
        if self.clip_reading not in CLIP_READINGS:
            raise ValueError(f"clip_reading must be one of {', '.join(CLIP_READINGS)}; got {self.clip_reading!r}")
        if self.clip is None:  # no clip, no reading: the cell is the one without it
            object.__setattr__(self, "clip_reading", "spec")

    def clips(self, where: str) -> bool:
        """Whether ``clip`` applies at ``where`` (``gates``, ``h`` or ``cell``)."""
        return self.clip is not None and where in CLIP_READINGS[self.clip_reading][0]

    def clipped(self, z: np.ndarray, where: str) -> np.ndarray:
        return np.clip(z, -self.clip, self.clip) if self.clips(where) else z

    def inside(self, z: np.ndarray, where: str) -> np.ndarray | float:
        """d clipped(z) / dz: 1 where the clip does not bite."""
        return np.abs(z) <= self.clip if self.clips(where) else 1.0


PLAIN = Variant()
"""The LSTM of the equations above: sigmoid, tanh, tanh; no peepholes, clip or coupling."""

@dataclass(frozen=True)
class Trace:
    """Everything a forward pass produced: hs, cs (T, B, H), the gate activations and their
    pre-activations (T, B, 4H; before any clip, with the peephole terms). With the ``cell``
    reading of clip, cs holds the clipped cells."""

    hs: np.ndarray
    cs: np.ndarray
    gates: np.ndarray
    pre: np.ndarray


def _cast(dtype: np.dtype | str, *arrays: np.ndarray) -> list[np.ndarray]:
    return [np.asarray(a, dtype=dtype) for a in arrays]


def _peepholes(p: Params, variant: Variant) -> list[np.ndarray]:
    if not variant.peepholes:
        return []
    if p.p is None:
        raise ValueError("the variant has peepholes but the parameters have no p")
    return np.split(p.p, 3)


def lstm_forward(p: Params, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray,
                 dtype: np.dtype | str | None = None, variant: Variant = PLAIN) -> Trace:
    """Run the LSTM (or its ``variant``) over ``xs`` (T, B, I) from state (h0, c0), each (B, H);
    in :func:`oracle_dtype` (returned in float64) unless given a ``dtype``."""
    if dtype is None:
        return _float64(lstm_forward(p, xs, h0, c0, oracle_dtype(p, xs, h0), variant))
    p = p.astype(dtype)
    xs, h, c = _cast(dtype, xs, h0, c0)
    peep, clip = _peepholes(p, variant), variant.clipped
    hs, cs, gates, pres = [], [], [], []
    for x in xs:
        zi, zf, zg, zo = np.split(x @ p.w_ih.T + h @ p.w_hh.T + p.bias, 4, axis=1)
        if peep:
            zi, zf = zi + peep[0] * c, zf + peep[1] * c
        i, g = variant.f(clip(zi, "gates")), variant.g(clip(zg, "gates"))
        f = 1 - i if variant.input_forget else variant.f(clip(zf, "gates"))
        c = clip(f * c + i * g, "cell")
        if peep:
            zo = zo + peep[2] * c
        o = variant.f(clip(zo, "gates"))
        h = o * variant.h(clip(c, "h"))
        if p.w_hr is not None:
            h = h @ p.w_hr.T
        hs.append(h)
        cs.append(c)
        gates.append(np.concatenate([i, f, g, o], axis=1))
        pres.append(np.concatenate([zi, zf, zg, zo], axis=1))
    return Trace(np.stack(hs), np.stack(cs), np.stack(gates), np.stack(pres))


def lstm_step(p: Params, x: np.ndarray, h: np.ndarray, c: np.ndarray,
              dtype: np.dtype | str | None = None, variant: Variant = PLAIN) -> tuple[np.ndarray, np.ndarray]:
    """One step: ``(h', c')`` for x (B, I) and state (B, H)."""
    trace = lstm_forward(p, x[None], h, c, dtype, variant)
    return trace.hs[0], trace.cs[0]


def stack_forward(layers: list[list[Params]], xs: np.ndarray, h0: np.ndarray,
                  c0: np.ndarray, variant: Variant = PLAIN) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A stacked, optionally bidirectional LSTM: ``layers[l][d]``, states (L * D, B, .) in the
    order ``l * D + d``. Returns outputs (T, B, D * P) and the final (h_n, c_n)."""
    directions = len(layers[0])
    h_n, c_n = [], []
    for l, layer in enumerate(layers):
        outs = []
        for d, p in enumerate(layer):
            k = l * directions + d
            trace = lstm_forward(p, xs[::-1] if d else xs, h0[k], c0[k], variant=variant)
            outs.append(trace.hs[::-1] if d else trace.hs)
            h_n.append(trace.hs[-1])
            c_n.append(trace.cs[-1])
        xs = np.concatenate(outs, axis=-1)
    return xs, np.stack(h_n), np.stack(c_n)


def lstm_backward(p: Params, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray,
                  gh: np.ndarray, gc: np.ndarray, dtype: np.dtype | str | None = None,
                  variant: Variant = PLAIN) -> Grads:
    """BPTT: gradients of ``sum_t <gh_t, h_t> + <gc, c_T>`` with respect to everything
    (no projection; dL/dp with peepholes); in :func:`oracle_dtype` (returned in float64) unless
    given a ``dtype``."""
    if p.w_hr is not None:
        raise ValueError("lstm_backward does not differentiate through an output projection")
    if dtype is None:
        grads = lstm_backward(p, xs, h0, c0, gh, gc, oracle_dtype(p, xs, h0), variant)
        return Grads(**{f.name: None if getattr(grads, f.name) is None else np.asarray(getattr(grads, f.name), np.float64)
                        for f in fields(grads)})
    p = p.astype(dtype)
    xs, h0, c0, gh, gc = _cast(dtype, xs, h0, c0, gh, gc)
    trace = lstm_forward(p, xs, h0, c0, dtype, variant)
    peep, clip, inside = _peepholes(p, variant), variant.clipped, variant.inside
    hs_prev = np.concatenate([h0[None], trace.hs[:-1]])
    cs_prev = np.concatenate([c0[None], trace.cs[:-1]])
    dw_ih, dw_hh, db = np.zeros_like(p.w_ih), np.zeros_like(p.w_hh), np.zeros_like(p.b_ih)
    dp = [np.zeros(p.hidden_size, dtype) for _ in peep]
    dxs = np.zeros_like(xs)
    dh_next, dc_next = np.zeros_like(h0), gc
    for t in reversed(range(len(xs))):
        i, f, g, o = np.split(trace.gates[t], 4, axis=1)
        zi, zf, zg, zo = np.split(trace.pre[t], 4, axis=1)
        c = trace.cs[t]
        dh = gh[t] + dh_next
        dzo = dh * variant.h(clip(c, "h")) * variant.f.grad(clip(zo, "gates")) * inside(zo, "gates")
        dc = dc_next + dh * o * variant.h.grad(clip(c, "h")) * inside(c, "h")
        if peep:
            dc = dc + dzo * peep[2]
        dc = dc * inside(f * cs_prev[t] + i * g, "cell")  # through c = clip(f c_prev + i g)
        di, df = dc * g, dc * cs_prev[t]
        if variant.input_forget:  # f = 1 - i: f's pre-activation is not used
            di, df = di - df, np.zeros_like(df)
        dzi = di * variant.f.grad(clip(zi, "gates")) * inside(zi, "gates")
        dzf = df * variant.f.grad(clip(zf, "gates")) * inside(zf, "gates")
        dzg = dc * i * variant.g.grad(clip(zg, "gates")) * inside(zg, "gates")
        dz = np.concatenate([dzi, dzf, dzg, dzo], axis=1)
        dw_ih += dz.T @ xs[t]
        dw_hh += dz.T @ hs_prev[t]
        db += dz.sum(axis=0)
        dxs[t] = dz @ p.w_ih
        dh_next = dz @ p.w_hh
        dc_next = dc * f
        if peep:
            dc_next = dc_next + dzi * peep[0] + dzf * peep[1]
            for k, (dzk, ck) in enumerate(((dzi, cs_prev[t]), (dzf, cs_prev[t]), (dzo, c))):
                dp[k] += (dzk * ck).sum(axis=0)
    return Grads(dxs, dh_next, dc_next, dw_ih, dw_hh, db, db.copy(), np.concatenate(dp) if peep else None)


def rnn_forward(w_ih: np.ndarray, w_hh: np.ndarray, b: np.ndarray, xs: np.ndarray,
                h0: np.ndarray) -> np.ndarray:
    """Vanilla tanh RNN over ``xs`` (T, B, I); returns hs (T, B, H)."""
    h, hs = np.asarray(h0, np.float64), []
    for x in np.asarray(xs, np.float64):
        h = np.tanh(x @ w_ih.T + h @ w_hh.T + b)
        hs.append(h)
    return np.stack(hs)


def rnn_backward(w_ih: np.ndarray, w_hh: np.ndarray, b: np.ndarray, xs: np.ndarray,
                 h0: np.ndarray, gh: np.ndarray) -> dict[str, np.ndarray]:
    """BPTT of ``sum_t <gh_t, h_t>`` for the vanilla RNN: gradients for x, h0, w_ih, w_hh, b."""
    xs, h0, gh = _cast(np.float64, xs, h0, gh)
    hs = rnn_forward(w_ih, w_hh, b, xs, h0)
    hs_prev = np.concatenate([h0[None], hs[:-1]])
    grads = {"x": np.zeros_like(xs), "w_ih": np.zeros_like(w_ih), "w_hh": np.zeros_like(w_hh),
             "b": np.zeros_like(b)}
    dh_next = np.zeros_like(h0)
    for t in reversed(range(len(xs))):
        dz = (gh[t] + dh_next) * (1.0 - hs[t] ** 2)
        grads["w_ih"] += dz.T @ xs[t]
        grads["w_hh"] += dz.T @ hs_prev[t]
        grads["b"] += dz.sum(axis=0)
        grads["x"][t] = dz @ w_ih
        dh_next = dz @ w_hh
    grads["h0"] = dh_next
    return grads
