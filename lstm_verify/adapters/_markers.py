"""Marker parameters: a converter folds a model's weights into its output as constants, so a
converted column converts once per shape with element k of the parameters set to a marker that
names k, then finds where each parameter landed and writes each parameter set there (LiteRT's
flatbuffers, tf2onnx's initializers). NumPy only: each converter's column imports it.
"""

from __future__ import annotations

import numpy as np

MARKER = 2.0 ** 23
"""Element k of the parameters converts as ``MARKER + k``, and from k = 2^23 on as ``-(k)``: every
integer in [2^23, 2^24) is exact in float32 (and float64), so 2^24 parameters have distinct markers
(H = I = 1024 has 8.4M). No float16 or bfloat16 marker is exact: those dtypes cannot be marked."""


def encode(k: np.ndarray) -> np.ndarray:
    """The markers of parameter indices ``k`` (:data:`MARKER`)."""
    return np.where(k < MARKER, MARKER + k, -k).astype(np.float64)


def decode(values: np.ndarray) -> np.ndarray:
    """The parameter indices of marker ``values``; -1 or a fraction for other values."""
    return np.where(values >= 0, values - MARKER, np.where(values <= -MARKER, -values, -1.0))


def marked(values: np.ndarray, size: int) -> np.ndarray:
    """Which of ``values`` are markers of one of ``size`` parameters."""
    index = decode(np.asarray(values, np.float64))
    return (index >= 0) & (index < size) & (index == np.round(index))


def marker_arrays(shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Marker arrays of these shapes (in this order): element k of their concatenation, flattened,
    is the marker of k."""
    sizes = np.cumsum([0, *(int(np.prod(s)) for s in shapes.values())])
    if sizes[-1] > 2 * MARKER:
        raise ValueError(f"{sizes[-1]} parameters: markers number at most {2 * MARKER:.0f}")
    return {n: encode(np.arange(sizes[k], sizes[k + 1])).reshape(s) for k, (n, s) in enumerate(shapes.items())}
