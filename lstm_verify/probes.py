"""Black-box gate probes: with zero weights each gate's value is recoverable from (h, c).

With all weights zero the pre-activations are the biases, whatever the input. For a
vector ``z`` of pre-activations (one per hidden unit) each probe drives one gate's
bias to ``z`` and pins the others where the cell's output exposes that gate exactly:

====  =====================================  =========================  ==========
gate  other biases                           initial cell state c0      read
====  =====================================  =========================  ==========
i     f=0, g=+20 (tanh = 1), o=0             0                          c1 = i
f     i=0, g=0 (tanh = 0), o=0               1                          c1 = f
g     i=+40 (sigmoid = 1), f=0, o=0          0                          c1 = g
o     i=-40, f=+40, g=0                      20 (tanh = 1)              h1 = o
====  =====================================  =========================  ==========

An implementation that stores the gate blocks in another order than it declares reads
the wrong bias for the driven gate, and the recovered value is not sigmoid(z) / tanh(z).

The activation of the cell state, ``h(c)``, is read the same way: i = 0, f = 1, g = 0 and o = 1
(biases -40, +40, 0, +40) carry c0 into c1 unchanged, and h1 = tanh(c0)
(:func:`probe_cell_activation`). Every value the probes pin (sigmoid(+-40), tanh(20)) rounds to
exactly 0 or 1 in every format, and the products and sums they meet are exact, so what is read
is the activation's own rounding alone (:func:`activation_grid`'s points are stored exactly).

Peepholes (an implementation with the ``variants`` capability) are probed the same way, zero
weights and biases, c0 = 1, one peephole driven to ``z``: p_i with f = 0 (bias -40) and g = 1
(bias +20) gives c1 = i; p_f with i = 0 (bias -40) gives c1 = f; p_o with i = 0 and f = 1
(biases -40, +40) keeps c1 = 1 and gives h1 = o * tanh(1).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from lstm_verify.dtypes import numpy_dtype, unit_roundoff
from lstm_verify.params import GATES, Params
from lstm_verify.reference import PLAIN, Activation, Variant

if TYPE_CHECKING:
    from lstm_verify.implementation import Implementation

PROBES: dict[str, tuple[dict[str, float], float, str]] = {
    "i": ({"f": 0.0, "g": 20.0, "o": 0.0}, 0.0, "c"),
    "f": ({"i": 0.0, "g": 0.0, "o": 0.0}, 1.0, "c"),
    "g": ({"i": 40.0, "f": 0.0, "o": 0.0}, 0.0, "c"),
    "o": ({"i": -40.0, "f": 40.0, "g": 0.0}, 20.0, "h"),
}

ACTIVATIONS: dict[str, Activation] = {"i": PLAIN.f, "f": PLAIN.f, "g": PLAIN.g, "o": PLAIN.f}
"""What each gate should be as a function of its pre-activation (its exact value: :func:`exact_activation`)."""


def _probe(gate: str, z: np.ndarray, input_size: int) -> tuple[Params, np.ndarray, np.ndarray, np.ndarray, int]:
    """The probe's parameters, x, h0, c0, and which of (h, c) exposes the gate."""
    hidden = len(z)
    others, c0_value, read = PROBES[gate]
    params = Params.zeros(input_size, hidden).with_gate_biases(**{gate: z}, **others)
    x = np.linspace(-1.0, 1.0, input_size)[None]
    return params, x, np.full((1, hidden), 0.5), np.full((1, hidden), c0_value), "hc".index(read)


def probe_gate(impl: Implementation, gate: str, z: np.ndarray, input_size: int = 3) -> np.ndarray:
    """The value of ``gate`` at pre-activations ``z`` (H,), observed through one step of ``impl``."""
    params, x, h0, c0, read = _probe(gate, z, input_size)
    out = impl.load(params).step(impl.cast(x)[0], tuple(impl.cast(h0, c0)))
    return np.asarray(out[read], np.float64).reshape(len(z))


def probe_bound(impl: Implementation, gate: str, z: np.ndarray, input_size: int = 3) -> np.ndarray:
    """How far a correct implementation's :func:`probe_gate` may be from the exact gate value."""
    params, x, h0, c0, read = _probe(gate, z, input_size)
    return impl.step_bounds(params, x, h0, c0)[read].reshape(len(z))


def probe_all(impl: Implementation, z: np.ndarray, input_size: int = 3) -> dict[str, np.ndarray]:
    """Every gate's value at pre-activations ``z``, in canonical gate order."""
    return {gate: probe_gate(impl, gate, z, input_size) for gate in GATES}


CELL_PROBE = {"i": -40.0, "f": 40.0, "g": 0.0, "o": 40.0}
"""The biases that carry c0 into c1 unchanged and expose tanh(c1) as h1."""


def probe_cell_activation(impl: Implementation, c: np.ndarray, input_size: int = 3) -> np.ndarray:
    """``h(c)`` at cell states ``c`` (H,), observed as h1 through one step of ``impl`` with c0 = c."""
    hidden = len(c)
    params = Params.zeros(input_size, hidden).with_gate_biases(**CELL_PROBE)
    x = np.linspace(-1.0, 1.0, input_size)[None]
    h, _ = impl.load(params).step(impl.cast(x)[0], tuple(impl.cast(np.full((1, hidden), 0.5), c[None])))
    return np.asarray(h, np.float64).reshape(hidden)


def saturation(fn: Activation, dtype: str) -> float:
    """The ``|z|`` past which sigmoid or tanh is within ``dtype``'s rounding ``u`` of 1: ``ln(1 / u)``
    (sigmoid: 1 - sigmoid(z) ~ exp(-z)), ``ln(2 / u) / 2`` (tanh: 1 - tanh(z) ~ 2 exp(-2 z)); 36.7
    and 18.7 in float64, 16.6 and 8.7 in float32."""
    u = unit_roundoff(dtype)
    return float(np.log(1.0 / u)) if fn.name == "Sigmoid" else float(np.log(2.0 / u) / 2.0)


def activation_grid(fn: Activation, dtype: str, operands: str | None = None, points: int = 512) -> np.ndarray:
    """``points`` evenly spaced arguments of ``fn`` over [-L, L], ``L`` one past :func:`saturation` (so the
    grid spans every argument where ``fn`` still differs from its limits in ``dtype``), each rounded to
    ``dtype`` and to the matmul ``operands`` format if any (so an implementation that adds the bias
    inside its matrix product still stores it exactly), as float64. TF32 rounds as float16 does
    over float16's normal range, where every point but 0 lies."""
    limit = float(np.ceil(saturation(fn, dtype))) + 1.0
    z = np.linspace(-limit, limit, points)
    for fmt in filter(None, (dtype, operands)):
        z = z.astype(numpy_dtype("float16" if fmt == "tf32" else fmt)).astype(np.float64)
    return z


def exact_activation(fn: Activation, z: np.ndarray, rounded: bool = True) -> np.ndarray:
    """``fn(z)`` computed in extended precision (x86's 80-bit long double, 11 more bits than float64;
    elsewhere float64 itself) and rounded once to float64, within half a float64 ulp (``rounded``),
    or kept in extended precision."""
    wide = np.asarray(z, np.longdouble)
    if fn.name == "Sigmoid":
        value = 1 / (1 + np.exp(-wide))
    elif fn.name == "Tanh":
        value = np.tanh(wide)
    else:
        raise ValueError(f"no extended-precision {fn.name}")
    return np.asarray(value, np.float64) if rounded else value


PEEPHOLE_GATES = "ifo"
PEEPHOLE_PROBES: dict[str, tuple[dict[str, float], str, float]] = {
    "i": ({"f": -40.0, "g": 20.0}, "c", 1.0),
    "f": ({"i": -40.0}, "c", 1.0),
    "o": ({"i": -40.0, "f": 40.0}, "h", float(exact_activation(PLAIN.h, np.array(1.0)))),
}
"""Per peephole: the other gates' biases, what to read, and the factor to divide it by."""


def _peephole_probe(gate: str, z: np.ndarray, input_size: int
                    ) -> tuple[Params, np.ndarray, np.ndarray, np.ndarray, int, float]:
    """The peephole probe's parameters, x, h0, c0, which of (h, c) to read and what to divide it by."""
    hidden = len(z)
    biases, read, factor = PEEPHOLE_PROBES[gate]
    p = np.zeros((3, hidden))
    p[PEEPHOLE_GATES.index(gate)] = z
    params = replace(Params.zeros(input_size, hidden).with_gate_biases(**biases), p=p.reshape(-1))
    x = np.linspace(-1.0, 1.0, input_size)[None]
    return params, x, np.full((1, hidden), 0.5), np.ones((1, hidden)), "hc".index(read), factor


def probe_peephole(impl: Implementation, gate: str, z: np.ndarray, input_size: int = 3) -> np.ndarray:
    """The value of ``gate`` when only its peephole is ``z`` (H,), through one step of ``impl``."""
    params, x, h0, c0, read, factor = _peephole_probe(gate, z, input_size)
    out = impl.load_variant(params, Variant(peepholes=True)).step(impl.cast(x)[0], tuple(impl.cast(h0, c0)))
    return np.asarray(out[read], np.float64).reshape(len(z)) / factor


def probe_peephole_bound(impl: Implementation, gate: str, z: np.ndarray, input_size: int = 3) -> np.ndarray:
    """How far a correct implementation's :func:`probe_peephole` may be from the exact gate value."""
    params, x, h0, c0, read, factor = _peephole_probe(gate, z, input_size)
    return impl.step_bounds(params, x, h0, c0, Variant(peepholes=True))[read].reshape(len(z)) / factor
