"""NumPy: the reference equations run in float32 or float64, with their hand-written BPTT;
its sequence API takes lengths and runs in reverse, the semantics the sequence laws expect."""

from __future__ import annotations

import numpy as np

from lstm_verify import reference
from lstm_verify.adapters.base import Adapter, Capabilities, Model, NativeGrads, Pullback, State
from lstm_verify.layouts import TORCH, Native
from lstm_verify.params import Params


class NumpyModel(Model):
    def __init__(self, native: Native, dtype: str) -> None:
        self.params = Params(**native)
        self.dtype = np.dtype(dtype)

    def _state(self, batch: int, state: State | None) -> State:
        if state is None:
            zeros = np.zeros((batch, self.params.hidden_size), self.dtype)
            return zeros, zeros
        return state

    def step(self, x: np.ndarray, state: State | None = None) -> State:
        h, c = self._state(len(x), state)
        return reference.lstm_step(self.params, x, h, c, self.dtype)

    def sequence(self, xs: np.ndarray, state: State | None = None, *, lengths: np.ndarray | None = None,
                 reverse: bool = False) -> tuple[np.ndarray, State]:
        h, c = self._state(xs.shape[1], state)
        if lengths is None:
            order = slice(None, None, -1 if reverse else 1)
            trace = reference.lstm_forward(self.params, xs[order], h, c, self.dtype)
            return trace.hs[order], (trace.hs[-1], trace.cs[-1])
        hs, h, c = np.zeros((*xs.shape[:2], h.shape[-1]), self.dtype), h.copy(), c.copy()
        for b, n in enumerate(lengths):  # each row alone, over its own valid steps
            steps = np.arange(n)[::-1] if reverse else np.arange(n)
            trace = reference.lstm_forward(self.params, xs[steps, b:b + 1], h[b:b + 1], c[b:b + 1], self.dtype)
            hs[steps, b], h[b], c[b] = trace.hs[:, 0], trace.hs[-1, 0], trace.cs[-1, 0]
        return hs, (h, c)

    def grads(self, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray,
              gh: np.ndarray, gc: np.ndarray) -> NativeGrads:
        return self.vjp(xs, h0, c0)[2](gh, gc)

    def vjp(self, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray) -> tuple[np.ndarray, State, Pullback]:
        trace = reference.lstm_forward(self.params, xs, h0, c0, self.dtype)

        def pullback(gh: np.ndarray, gc: np.ndarray) -> NativeGrads:
            g = reference.lstm_backward(self.params, xs, h0, c0, gh, gc, self.dtype, trace=trace)
            return NativeGrads(g.x, g.h0, g.c0, {"w_ih": g.w_ih, "w_hh": g.w_hh, "b_ih": g.b_ih, "b_hh": g.b_hh})
        return trace.hs, (trace.hs[-1], trace.cs[-1]), pullback


class NumpyAdapter(Adapter):
    """A NumPy LSTM in torch's layout; float32 and float64; hand-written BPTT."""

    name = "numpy"
    requires = ("numpy", "scipy")
    layout = TORCH
    capabilities = Capabilities(gradients=True, training=True, sequence=True, lengths=True, reverse=True)

    def load(self, native: Native, dtype: str) -> Model:
        return NumpyModel(native, dtype)
