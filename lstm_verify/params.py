"""Canonical LSTM parameters, gradients and drawn test cases.

The canonical layout is the one every other layout is described against: gate
blocks in the order i, f, g, o; input weights ``w_ih`` (4H, I), recurrent weights
``w_hh`` (4H, H), and two bias vectors ``b_ih`` and ``b_hh`` (4H) whose sum is
the bias the cell sees. Optional peepholes (the ONNX operator's ``P``) are one vector ``p``
(3H,) holding the per-gate blocks in the canonical order without g: ``[p_i, p_f, p_o]``
(ONNX stores ``[p_i, p_o, p_f]``; :mod:`lstm_verify.layouts` maps between them).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

GATES = "ifgo"
"""Canonical order of the four gate blocks: input, forget, cell candidate, output."""

PARAM_NAMES = ("w_ih", "w_hh", "b_ih", "b_hh")


@dataclass(frozen=True)
class Params:
    """One LSTM layer's parameters in the canonical layout.

    With an output projection (torch's ``proj_size``) ``w_hr`` is (P, H), the state and output
    are ``h = w_hr (o * tanh c)`` of size P, and ``w_hh`` is (4H, P). With peepholes ``p`` is
    (3H,), ``[p_i, p_f, p_o]``: i and f read c_{t-1}, o reads c_t (used by a
    :class:`~lstm_verify.reference.Variant` with ``peepholes=True``)."""

    w_ih: np.ndarray
    w_hh: np.ndarray
    b_ih: np.ndarray
    b_hh: np.ndarray
    w_hr: np.ndarray | None = None
    p: np.ndarray | None = None

    @property
    def input_size(self) -> int:
        return self.w_ih.shape[1]

    @property
    def hidden_size(self) -> int:
        """H: the size of the cell state c."""
        return self.w_hh.shape[0] // 4

    @property
    def output_size(self) -> int:
        """The size of h: P with a projection, else H."""
        return self.w_hh.shape[1]

    @property
    def bias(self) -> np.ndarray:
        """The bias the cell sees: ``b_ih + b_hh``."""
        return self.b_ih + self.b_hh

    def astype(self, dtype: str | np.dtype) -> Params:
        return Params(**{n: np.asarray(a, dtype=dtype) for n, a in self.items()})

    def items(self) -> list[tuple[str, np.ndarray]]:
        """The arrays by name; ``w_hr`` and ``p`` only when there is a projection, peepholes."""
        names = PARAM_NAMES + tuple(n for n in ("w_hr", "p") if getattr(self, n) is not None)
        return [(n, getattr(self, n)) for n in names]

    @classmethod
    def zeros(cls, input_size: int, hidden_size: int) -> Params:
        h4 = 4 * hidden_size
        return cls(np.zeros((h4, input_size)), np.zeros((h4, hidden_size)), np.zeros(h4), np.zeros(h4))

    @classmethod
    def uniform_init(cls, input_size: int, hidden_size: int, rng: np.random.Generator,
                     forget_bias: float = 1.0) -> Params:
        """The usual initialisation: U(-1/sqrt(H), 1/sqrt(H)), forget-gate bias raised by ``forget_bias``."""
        k = 1.0 / np.sqrt(hidden_size)
        h4 = 4 * hidden_size
        p = cls(rng.uniform(-k, k, (h4, input_size)), rng.uniform(-k, k, (h4, hidden_size)),
                rng.uniform(-k, k, h4), rng.uniform(-k, k, h4))
        p.b_ih[hidden_size:2 * hidden_size] += forget_bias
        return p

    def with_gate_biases(self, **bias: float | np.ndarray) -> Params:
        """A copy whose bias for the named gates (``i=``, ``f=``...) is set, split as ``b_ih=bias, b_hh=0``."""
        b_ih, b_hh, h = self.b_ih.copy(), self.b_hh.copy(), self.hidden_size
        for gate, value in bias.items():
            k = GATES.index(gate)
            b_ih[k * h:(k + 1) * h] = value
            b_hh[k * h:(k + 1) * h] = 0.0
        return replace(self, b_ih=b_ih, b_hh=b_hh)


@dataclass(frozen=True)
class Grads:
    """Gradients of a scalar loss, in the canonical layout.

    ``x`` is (T, B, I); ``h0`` and ``c0`` are (B, H); the parameter gradients have
    the shapes of :class:`Params` (``b_ih`` and ``b_hh`` are both dL/d(bias)).
    """

    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray
    w_ih: np.ndarray
    w_hh: np.ndarray
    b_ih: np.ndarray
    b_hh: np.ndarray
    p: np.ndarray | None = None
    """dL/dp, only when the cell has peepholes."""

    def items(self) -> list[tuple[str, np.ndarray]]:
        return [(f.name, getattr(self, f.name)) for f in fields(self) if getattr(self, f.name) is not None]


@dataclass(frozen=True)
class Case:
    """A reproducible test case: every array derives from ``seed``.

    ``repr(case)`` is valid Python, so a failing property prints a case that can be
    pasted back: ``Case(batch=2, input_size=3, hidden_size=4, steps=5, seed=7).arrays()``.
    """

    batch: int
    input_size: int
    hidden_size: int
    steps: int = 1
    seed: int = 0
    weight_scale: float = 1.0
    state_scale: float = 1.0

    def _layer(self, rng: np.random.Generator, inputs: int, outputs: int, projected: bool) -> Params:
        h, scale = self.hidden_size, self.weight_scale
        s = scale / np.sqrt(max(inputs, h))
        return Params(rng.normal(0, s, (4 * h, inputs)), rng.normal(0, s, (4 * h, outputs)),
                      rng.normal(0, scale, 4 * h), rng.normal(0, scale, 4 * h),
                      rng.normal(0, 1 / np.sqrt(h), (outputs, h)) if projected else None)

    def _inputs_and_state(self, rng: np.random.Generator, states: tuple[int, ...], outputs: int
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        xs = rng.normal(0, 1, (self.steps, self.batch, self.input_size))
        h0 = np.tanh(rng.normal(0, self.state_scale, (*states, self.batch, outputs)))
        c0 = rng.normal(0, self.state_scale, (*states, self.batch, self.hidden_size))
        return xs, h0, c0

    def arrays(self) -> tuple[Params, np.ndarray, np.ndarray, np.ndarray]:
        """Canonical float64 ``(params, xs (T, B, I), h0 (B, H), c0 (B, H))``."""
        rng = np.random.default_rng(self.seed)
        params = self._layer(rng, self.input_size, self.hidden_size, projected=False)
        return (params, *self._inputs_and_state(rng, (), self.hidden_size))

    def stack(self, layers: int = 1, directions: int = 1, proj_size: int | None = None
              ) -> tuple[list[list[Params]], np.ndarray, np.ndarray, np.ndarray]:
        """A stacked and/or bidirectional LSTM: canonical ``params[l][d]``, xs (T, B, I) and
        non-zero states h0 (L * D, B, P), c0 (L * D, B, H) (P = ``proj_size`` or H). Layer 0
        reads I inputs, later layers D * P."""
        rng = np.random.default_rng([self.seed, layers, directions, proj_size or 0])
        outputs = proj_size or self.hidden_size
        params = [[self._layer(rng, self.input_size if l == 0 else directions * outputs, outputs,
                               projected=proj_size is not None) for _ in range(directions)]
                  for l in range(layers)]
        return (params, *self._inputs_and_state(rng, (layers * directions,), outputs))

    def peepholes(self) -> np.ndarray:
        """Peephole weights ``[p_i, p_f, p_o]`` (3H,) for this case: ``replace(params, p=case.peepholes())``."""
        return np.random.default_rng([self.seed, 3]).normal(0, self.weight_scale, 3 * self.hidden_size)

    def loss_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """Weights ``(gh (T, B, H), gc (B, H))`` of the scalar loss sum(gh*h_t) + sum(gc*c_T)."""
        rng = np.random.default_rng(self.seed + 1)
        return (rng.normal(0, 1, (self.steps, self.batch, self.hidden_size)),
                rng.normal(0, 1, (self.batch, self.hidden_size)))


@dataclass(frozen=True)
class StackCase:
    """A :class:`Case` drawn as a stacked and/or bidirectional LSTM (see :meth:`Case.stack`);
    ``repr`` pastes back: ``StackCase(Case(...), layers=2, directions=2).arrays()``."""

    case: Case
    layers: int = 1
    directions: int = 1
    proj_size: int | None = None

    def arrays(self) -> tuple[list[list[Params]], np.ndarray, np.ndarray, np.ndarray]:
        return self.case.stack(self.layers, self.directions, self.proj_size)
