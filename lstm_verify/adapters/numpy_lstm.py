"""NumPy: an LSTM written the way a NumPy user writes one, independent of the kit's reference.

One stacked weight matrix ``w`` (I + H, 4H) over ``[x, h]`` and one bias ``b`` (4H), the gate
blocks in the order i, f, o, g (the three sigmoid gates first, so one slice takes them all);
one fused matmul per step; its own BPTT; a right-padded batch with per-row lengths and reverse
runs all rows at once, each reading its own time index and keeping its state past its length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lstm_verify.adapters.base import Adapter, Capabilities, Model, NativeGrads, Pullback, State
from lstm_verify.layouts import Layout, Native

NUMPY = Layout("numpy", gate_order="ifog", transposed=True, fused="xh", biases=1)
"""``w`` (I + H, 4H) over ``[x, h]``, ``b`` (4H), gate blocks i, f, o, g."""


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-z) without overflow: e^-|z| is at most 1."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


@dataclass
class _Run:
    """What the forward keeps for BPTT, per processing step k: the matmul's input ``[x, h]``, the
    activated gates (i, f, o, g), the cell before and after."""

    inputs: list[np.ndarray]
    gates: list[np.ndarray]
    c_prev: list[np.ndarray]
    c: list[np.ndarray]


class NumpyModel(Model):
    def __init__(self, native: Native, dtype: str) -> None:
        self.dtype = np.dtype(dtype)
        self.w = np.asarray(native["w"], self.dtype)
        self.b = np.asarray(native["b"], self.dtype)
        self.hidden = len(self.b) // 4

    def _state(self, batch: int, state: State | None) -> State:
        if state is None:
            zeros = np.zeros((batch, self.hidden), self.dtype)
            return zeros, zeros
        return tuple(np.asarray(s, self.dtype) for s in state)

    def _cell(self, inputs: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One step from ``[x, h]``: (gates i, f, o, g activated, h', c')."""
        z = inputs @ self.w + self.b
        gates = np.concatenate([_sigmoid(z[:, :3 * self.hidden]), np.tanh(z[:, 3 * self.hidden:])], axis=1)
        i, f, o, g = np.split(gates, 4, axis=1)
        c = f * c + i * g
        return gates, o * np.tanh(c), c

    def step(self, x: np.ndarray, state: State | None = None) -> State:
        h, c = self._state(len(x), state)
        _, h, c = self._cell(np.concatenate([np.asarray(x, self.dtype), h], axis=1), c)
        return h, c

    def _run(self, xs: np.ndarray, h: np.ndarray, c: np.ndarray, lengths: np.ndarray | None,
             reverse: bool) -> tuple[np.ndarray, State, _Run]:
        """Processing step k reads ``xs[times[k, b], b]``; a row past its length keeps its state."""
        xs = np.asarray(xs, self.dtype)
        steps, batch = xs.shape[:2]
        lengths = np.full(batch, steps) if lengths is None else np.asarray(lengths)
        k = np.arange(steps)[:, None]
        live = k < lengths
        times = np.where(live, lengths - 1 - k if reverse else k, 0)
        rows = np.arange(batch)
        hs = np.zeros((steps, batch, self.hidden), self.dtype)
        run = _Run([], [], [], [])
        for t in range(steps):
            inputs = np.concatenate([xs[times[t], rows], h], axis=1)
            gates, h_new, c_new = self._cell(inputs, c)
            mask = live[t][:, None]
            run.inputs.append(inputs)
            run.gates.append(gates)
            run.c_prev.append(c)
            run.c.append(c_new)
            h, c = np.where(mask, h_new, h), np.where(mask, c_new, c)
            hs[times[t][live[t]], rows[live[t]]] = h[live[t]]
        return hs, (h, c), run

    def sequence(self, xs: np.ndarray, state: State | None = None, *, lengths: np.ndarray | None = None,
                 reverse: bool = False) -> tuple[np.ndarray, State]:
        hs, final, _ = self._run(xs, *self._state(xs.shape[1], state), lengths, reverse)
        return hs, final

    def _backward(self, run: _Run, gh: np.ndarray, gc: np.ndarray) -> NativeGrads:
        """BPTT of ``sum_t <gh_t, h_t> + <gc, c_T>`` over a forward in input time order."""
        gh, gc = np.asarray(gh, self.dtype), np.asarray(gc, self.dtype)
        inputs = self.w.shape[0] - self.hidden
        dw, db = np.zeros_like(self.w), np.zeros_like(self.b)
        dxs = np.zeros((len(run.inputs), gc.shape[0], inputs), self.dtype)
        dh, dc = np.zeros_like(gc), gc
        for t in reversed(range(len(run.inputs))):
            i, f, o, g = np.split(run.gates[t], 4, axis=1)
            tanh_c = np.tanh(run.c[t])
            dh = dh + gh[t]
            dc = dc + dh * o * (1 - tanh_c ** 2)
            dz = np.concatenate([dc * g * i * (1 - i), dc * run.c_prev[t] * f * (1 - f),
                                 dh * tanh_c * o * (1 - o), dc * i * (1 - g ** 2)], axis=1)
            dw += run.inputs[t].T @ dz
            db += dz.sum(axis=0)
            d_inputs = dz @ self.w.T
            dxs[t], dh, dc = d_inputs[:, :inputs], d_inputs[:, inputs:], dc * f
        return NativeGrads(dxs, dh, dc, {"w": dw, "b": db})

    def grads(self, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray,
              gh: np.ndarray, gc: np.ndarray) -> NativeGrads:
        return self.vjp(xs, h0, c0)[2](gh, gc)

    def vjp(self, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray) -> tuple[np.ndarray, State, Pullback]:
        hs, final, run = self._run(xs, *self._state(xs.shape[1], (h0, c0)), None, False)
        return hs, final, lambda gh, gc: self._backward(run, gh, gc)


class NumpyAdapter(Adapter):
    """A NumPy LSTM in its own stacked layout; float32 and float64; hand-written BPTT."""

    name = "numpy"
    requires = ("numpy",)
    layout = NUMPY
    capabilities = Capabilities(gradients=True, training=True, sequence=True, lengths=True, reverse=True)

    def load(self, native: Native, dtype: str) -> Model:
        return NumpyModel(native, dtype)
