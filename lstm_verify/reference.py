"""The oracle: a float64 NumPy LSTM and vanilla RNN, forward and BPTT, from the equations.

LSTM, gate blocks in the order i, f, g, o::

    z  = W_ih x + b_ih + W_hh h + b_hh
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);   g = tanh(z_g)
    c' = f * c + i * g
    h' = o * tanh(c')

With an output projection (torch's ``proj_size``): ``h' = W_hr (o * tanh(c'))``.
Stacks (:func:`stack_forward`): layer l reads layer l - 1's outputs; a backward
direction is the same equations over the time-reversed input, its outputs put back
in input time order and concatenated after the forward ones.

Vanilla RNN: ``h' = tanh(W_ih x + W_hh h + b)``.

Every function computes in float64 unless given another ``dtype``; the built-in
NumPy adapter is these same equations run in the implementation's dtype.

Losses are linear in the outputs, ``L = sum_t <gh_t, h_t> + <gc, c_T>``, so any
scalar loss can be back-propagated by passing its gradient with respect to the
outputs as ``gh`` and ``gc``. Nothing here imports a framework.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit as sigmoid

from lstm_verify.params import Grads, Params


@dataclass(frozen=True)
class Trace:
    """Everything a forward pass produced: hs, cs (T, B, H) and the gate activations (T, B, 4H)."""

    hs: np.ndarray
    cs: np.ndarray
    gates: np.ndarray


def _cast(dtype: np.dtype | str, *arrays: np.ndarray) -> list[np.ndarray]:
    return [np.asarray(a, dtype=dtype) for a in arrays]


def lstm_forward(p: Params, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray,
                 dtype: np.dtype | str = np.float64) -> Trace:
    """Run the LSTM over ``xs`` (T, B, I) from state (h0, c0), each (B, H)."""
    p = p.astype(dtype)
    xs, h, c = _cast(dtype, xs, h0, c0)
    hidden = p.hidden_size
    hs, cs, gates = [], [], []
    for x in xs:
        z = x @ p.w_ih.T + h @ p.w_hh.T + p.bias
        a = sigmoid(z)
        a[:, 2 * hidden:3 * hidden] = np.tanh(z[:, 2 * hidden:3 * hidden])
        i, f, g, o = np.split(a, 4, axis=1)
        c = f * c + i * g
        h = o * np.tanh(c)
        if p.w_hr is not None:
            h = h @ p.w_hr.T
        hs.append(h)
        cs.append(c)
        gates.append(a)
    return Trace(np.stack(hs), np.stack(cs), np.stack(gates))


def lstm_step(p: Params, x: np.ndarray, h: np.ndarray, c: np.ndarray,
              dtype: np.dtype | str = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """One step: ``(h', c')`` for x (B, I) and state (B, H)."""
    trace = lstm_forward(p, x[None], h, c, dtype)
    return trace.hs[0], trace.cs[0]


def stack_forward(layers: list[list[Params]], xs: np.ndarray, h0: np.ndarray,
                  c0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A stacked, optionally bidirectional LSTM: ``layers[l][d]``, states (L * D, B, .) in the
    order ``l * D + d``. Returns outputs (T, B, D * P) and the final (h_n, c_n)."""
    directions = len(layers[0])
    h_n, c_n = [], []
    for l, layer in enumerate(layers):
        outs = []
        for d, p in enumerate(layer):
            k = l * directions + d
            trace = lstm_forward(p, xs[::-1] if d else xs, h0[k], c0[k])
            outs.append(trace.hs[::-1] if d else trace.hs)
            h_n.append(trace.hs[-1])
            c_n.append(trace.cs[-1])
        xs = np.concatenate(outs, axis=-1)
    return xs, np.stack(h_n), np.stack(c_n)


def lstm_backward(p: Params, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray,
                  gh: np.ndarray, gc: np.ndarray, dtype: np.dtype | str = np.float64) -> Grads:
    """BPTT: gradients of ``sum_t <gh_t, h_t> + <gc, c_T>`` with respect to everything
    (no projection)."""
    if p.w_hr is not None:
        raise ValueError("lstm_backward does not differentiate through an output projection")
    p = p.astype(dtype)
    xs, h0, c0, gh, gc = _cast(dtype, xs, h0, c0, gh, gc)
    trace = lstm_forward(p, xs, h0, c0, dtype)
    hs_prev = np.concatenate([h0[None], trace.hs[:-1]])
    cs_prev = np.concatenate([c0[None], trace.cs[:-1]])
    dw_ih, dw_hh, db = np.zeros_like(p.w_ih), np.zeros_like(p.w_hh), np.zeros_like(p.b_ih)
    dxs = np.zeros_like(xs)
    dh_next, dc_next = np.zeros_like(h0), gc
    for t in reversed(range(len(xs))):
        i, f, g, o = np.split(trace.gates[t], 4, axis=1)
        tanh_c = np.tanh(trace.cs[t])
        dh = gh[t] + dh_next
        dc = dc_next + dh * o * (1.0 - tanh_c ** 2)
        dz = np.concatenate([dc * g * i * (1.0 - i),
                             dc * cs_prev[t] * f * (1.0 - f),
                             dc * i * (1.0 - g ** 2),
                             dh * tanh_c * o * (1.0 - o)], axis=1)
        dw_ih += dz.T @ xs[t]
        dw_hh += dz.T @ hs_prev[t]
        db += dz.sum(axis=0)
        dxs[t] = dz @ p.w_ih
        dh_next = dz @ p.w_hh
        dc_next = dc * f
    return Grads(dxs, dh_next, dc_next, dw_ih, dw_hh, db, db.copy())


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
