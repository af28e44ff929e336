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
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.special import expit

from lstm_verify.params import GATES, Params

if TYPE_CHECKING:
    from lstm_verify.implementation import Implementation

PROBES: dict[str, tuple[dict[str, float], float, str]] = {
    "i": ({"f": 0.0, "g": 20.0, "o": 0.0}, 0.0, "c"),
    "f": ({"i": 0.0, "g": 0.0, "o": 0.0}, 1.0, "c"),
    "g": ({"i": 40.0, "f": 0.0, "o": 0.0}, 0.0, "c"),
    "o": ({"i": -40.0, "f": 40.0, "g": 0.0}, 20.0, "h"),
}

ACTIVATIONS = {"i": expit, "f": expit, "g": np.tanh, "o": expit}
"""What each gate should be as a function of its pre-activation."""


def probe_gate(impl: Implementation, gate: str, z: np.ndarray, input_size: int = 3) -> np.ndarray:
    """The value of ``gate`` at pre-activations ``z`` (H,), observed through one step of ``impl``."""
    hidden = len(z)
    others, c0_value, read = PROBES[gate]
    params = Params.zeros(input_size, hidden).with_gate_biases(**{gate: z}, **others)
    x = np.linspace(-1.0, 1.0, input_size)[None]
    h0 = np.full((1, hidden), 0.5)
    c0 = np.full((1, hidden), c0_value)
    model = impl.load(params)
    h, c = model.step(impl.cast(x)[0], tuple(impl.cast(h0, c0)))
    return np.asarray(h if read == "h" else c, np.float64).reshape(hidden)


def probe_all(impl: Implementation, z: np.ndarray, input_size: int = 3) -> dict[str, np.ndarray]:
    """Every gate's value at pre-activations ``z``, in canonical gate order."""
    return {gate: probe_gate(impl, gate, z, input_size) for gate in GATES}
