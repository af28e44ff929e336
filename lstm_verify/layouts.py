"""How libraries store LSTM parameters, and the maps between that and the canonical layout.

A :class:`Layout` says, for one library: the order of the four gate blocks, whether
weights are stored transposed (``(in, 4H)`` rather than ``(4H, in)``), whether the
input and recurrent weights are fused into one matrix over ``[x, h]`` or ``[h, x]``,
whether there are one or two bias vectors, and a constant the library adds to the
forget-gate pre-activation at run time.

Native parameters are a dict of NumPy arrays with the keys ``w_ih``/``w_hh`` (split)
or ``w`` (fused), ``b_ih``/``b_hh`` (two biases) or ``b`` (one), ``w_hr`` for an
output projection and ``p`` for peepholes: the three blocks in the layout's gate order
without g (ONNX: ``[p_i, p_o, p_f]``).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations
from typing import Literal

import numpy as np

from lstm_verify.params import GATES, Grads, Params

Native = dict[str, np.ndarray]


@dataclass(frozen=True)
class Layout:
    """A library's storage layout for one LSTM layer."""

    name: str
    gate_order: str = GATES
    transposed: bool = False
    fused: Literal["xh", "hx"] | None = None
    biases: Literal[1, 2] = 2
    forget_offset: float = 0.0

    def __post_init__(self) -> None:
        if sorted(self.gate_order) != sorted(GATES):
            raise ValueError(f"gate_order must be a permutation of {GATES!r}, got {self.gate_order!r}")

    @property
    def _perm(self) -> list[int]:
        """Native block k holds canonical block ``_perm[k]``."""
        return [GATES.index(g) for g in self.gate_order]

    @property
    def _inverse(self) -> list[int]:
        """Canonical block k sits at native block ``_inverse[k]``."""
        return list(np.argsort(self._perm))

    def _blocks(self, a: np.ndarray, order: list[int]) -> np.ndarray:
        blocks = np.split(a, 4, axis=0)
        return np.concatenate([blocks[k] for k in order], axis=0)

    @property
    def peephole_order(self) -> str:
        """The order of the peephole blocks: the gate order without g (canonical: ``ifo``)."""
        return self.gate_order.replace("g", "")

    def _peepholes(self, p: np.ndarray, source: str, target: str) -> np.ndarray:
        blocks = dict(zip(source, np.split(np.asarray(p), 3)))
        return np.concatenate([blocks[g] for g in target])

    def to_native(self, p: Params, dtype: str | np.dtype = np.float64,
                  rng: np.random.Generator | None = None) -> Native:
        """Canonical -> native. With ``rng`` and two biases, the total bias is split at random
        between them, so an implementation that ignores either bias is caught."""
        perm = self._perm
        w_ih, w_hh = self._blocks(p.w_ih, perm), self._blocks(p.w_hh, perm)
        b_ih, b_hh = self._blocks(p.b_ih, perm), self._blocks(p.b_hh, perm)
        forget = self.gate_order.index("f")
        h = p.hidden_size
        native: Native = {}
        if self.fused is None:
            native["w_ih"], native["w_hh"] = w_ih, w_hh
        else:
            native["w"] = np.concatenate([w_ih, w_hh] if self.fused == "xh" else [w_hh, w_ih], axis=1)
        if self.transposed:
            native = {k: w.T for k, w in native.items()}
        if self.biases == 2:
            if rng is not None:
                shift = rng.normal(0.0, 1.0, b_ih.shape)
                b_ih, b_hh = b_ih + shift, b_hh - shift
            native["b_ih"], native["b_hh"] = b_ih.copy(), b_hh
        else:
            native["b"] = b_ih + b_hh
        first_bias = "b_ih" if self.biases == 2 else "b"
        native[first_bias][forget * h:(forget + 1) * h] -= self.forget_offset
        if p.w_hr is not None:
            native["w_hr"] = p.w_hr.T if self.transposed else p.w_hr
        if p.p is not None:
            native["p"] = self._peepholes(p.p, "ifo", self.peephole_order)
        return {k: np.ascontiguousarray(v, dtype=dtype) for k, v in native.items()}

    def _weights_from_native(self, native: Native, input_size: int) -> tuple[np.ndarray, np.ndarray]:
        ws = {k: (native[k].T if self.transposed else native[k]) for k in ("w", "w_ih", "w_hh") if k in native}
        if self.fused is None:
            w_ih, w_hh = ws["w_ih"], ws["w_hh"]
        elif self.fused == "xh":
            w_ih, w_hh = ws["w"][:, :input_size], ws["w"][:, input_size:]
        else:
            split = ws["w"].shape[1] - input_size  # the h part: H columns, or P with a projection
            w_hh, w_ih = ws["w"][:, :split], ws["w"][:, split:]
        return self._blocks(w_ih, self._inverse), self._blocks(w_hh, self._inverse)

    def sizes(self, native: Native) -> tuple[int, int]:
        """``(input_size, hidden_size)`` of a native parameter set (one layer; a projection's
        ``w_hr`` shortens the h part of a fused weight to P columns)."""
        hidden = len(native["b_ih" if self.biases == 2 else "b"]) // 4
        w = native["w_ih" if self.fused is None else "w"]
        inputs = w.shape[0] if self.transposed else w.shape[1]
        if self.fused is not None:
            w_hr = native.get("w_hr")
            inputs -= hidden if w_hr is None else w_hr.shape[1 if self.transposed else 0]
        return inputs, hidden

    def from_native(self, native: Native, input_size: int) -> Params:
        """Native -> canonical. A single native bias comes back as ``b_ih`` with ``b_hh = 0``."""
        w_ih, w_hh = self._weights_from_native(native, input_size)
        if self.biases == 2:
            b_ih, b_hh = native["b_ih"].astype(np.float64), native["b_hh"].astype(np.float64)
        else:
            b_ih = native["b"].astype(np.float64)
            b_hh = np.zeros_like(b_ih)
        h = w_hh.shape[0] // 4
        forget = self.gate_order.index("f")
        b_ih[forget * h:(forget + 1) * h] += self.forget_offset  # astype made b_ih a copy
        w_hr = native.get("w_hr")
        if w_hr is not None and self.transposed:
            w_hr = w_hr.T
        peepholes = native.get("p")
        if peepholes is not None:
            peepholes = self._peepholes(peepholes, self.peephole_order, "ifo")
        return Params(w_ih, w_hh, self._blocks(b_ih, self._inverse), self._blocks(b_hh, self._inverse), w_hr,
                      peepholes)

    def grads_from_native(self, native: Native, input_size: int) -> dict[str, np.ndarray]:
        """Native parameter gradients -> canonical ones (dL/db_ih = dL/db_hh = dL/dbias)."""
        inv = self._inverse
        w_ih, w_hh = self._weights_from_native(native, input_size)
        if self.biases == 2:
            b_ih, b_hh = self._blocks(native["b_ih"], inv), self._blocks(native["b_hh"], inv)
        else:
            b_ih = b_hh = self._blocks(native["b"], inv)
        grads = {"w_ih": w_ih, "w_hh": w_hh, "b_ih": b_ih, "b_hh": b_hh}
        if "p" in native:
            grads["p"] = self._peepholes(native["p"], self.peephole_order, "ifo")
        return grads


def canonical_grads(layout: Layout, native_grads: Native, x: np.ndarray, h0: np.ndarray,
                    c0: np.ndarray, input_size: int) -> Grads:
    """Assemble canonical :class:`Grads` from input-state gradients and native parameter gradients."""
    f64 = {k: np.asarray(v, np.float64) for k, v in native_grads.items()}
    return Grads(np.asarray(x, np.float64), np.asarray(h0, np.float64), np.asarray(c0, np.float64),
                 **layout.grads_from_native(f64, input_size))


TORCH = Layout("torch")
ONNX = Layout("onnx", gate_order="iofg")
KERAS = Layout("keras", gate_order="ifgo", transposed=True, biases=1)
HAIKU = Layout("haiku", gate_order="igfo", transposed=True, fused="xh", biases=1, forget_offset=1.0)
TF1 = Layout("tf1", gate_order="igfo", transposed=True, fused="xh", biases=1, forget_offset=1.0)
"""TensorFlow's fused kernel over [x, h] (``LSTMBlockCell``, ``BlockLSTM``, TF1's ``LSTMCell``): gates
i, ci, f, o, ``forget_bias=1`` added to f at run time."""
TF1_FB0 = Layout("tf1-fb0", gate_order="igfo", transposed=True, fused="xh", biases=1)
"""The same kernel run with ``forget_bias=0``: nothing added to f."""
PAPER = Layout("paper", gate_order="ifgo", fused="hx", biases=1)
FLAX = Layout("flax", transposed=True, biases=1)
"""flax's per-gate Dense kernels ``ii..io`` (I, H) and ``hi..ho`` (H, H), concatenated i, f, g, o
along the output axis, and the ``hi..ho`` biases: the only ones, on the h side."""
EQUINOX = Layout("equinox", biases=1)

KNOWN: dict[str, Layout] = {lay.name: lay for lay in (TORCH, ONNX, KERAS, HAIKU, TF1, TF1_FB0, PAPER, FLAX,
                                                              EQUINOX)}

TARGET_NAMES: dict[str, str] = {"w_ih": "weight_ih", "w_hh": "weight_hh", "w": "weight", "b_ih": "bias_ih",
                                "b_hh": "bias_hh", "b": "bias", "w_hr": "weight_hr", "p": "weight_peephole"}
"""The name under which a TARGET (and torch's modules) holds each native parameter: ``weight_peephole``
(3H,) only for a variant with peepholes, the blocks p_i, p_f, p_o in the layout's gate order without g
(:attr:`Layout.peephole_order`: torch's i f o, ONNX's i o f as its ``P``, tf1's i f o as
``LSTMBlockCell``'s ``wci, wcf, wco``)."""

WRONG_ORDERS: tuple[str, ...] = tuple("".join(p) for p in permutations(GATES) if "".join(p) != GATES)
"""The 23 gate-block orders that are not the canonical one."""
