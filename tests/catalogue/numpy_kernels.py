"""NumPy steps whose bug lives where the small shapes never look: a blocked body, a large-batch
path, a strided read, a reused output buffer, windows of a long sequence. Each is right at the
three small shapes of the other laws."""

import numpy as np

# beside this file: importable in the runner's workers too
from numpy_steps import _gates, in_storage, step, with_sequence

BLOCK = 8
"""Units per vector of the blocked body: AVX2's eight float32 lanes."""
LARGE_BATCH = 64
WINDOW = 100
"""Steps per window of the windowed sequence API: a memory budget's size, not a power of two."""


def blocked_body(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """Full blocks of 8 units take a vectorised body that leaves the recurrent bias out of the
    forget gate; the scalar tail (H % 8 units) is right. Right for every H < 8."""
    hidden = h.shape[-1]
    body = hidden - hidden % BLOCK
    z = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
    z[..., hidden:hidden + body] -= bias_hh[hidden:hidden + body]
    i, f, g, o = _gates(z)
    c = f * c + i * g
    return o * np.tanh(c), c


def large_batch_drops_bias(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """From a batch of 64 on, a GEMM path that forgets ``bias_ih``."""
    if x.shape[0] >= LARGE_BATCH:
        bias_ih = np.zeros_like(bias_ih)
    return step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh)


def contiguous_reader(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """Reads x through its data pointer as if it were C-contiguous (as a C kernel does)."""
    x = np.lib.stride_tricks.as_strided(x, x.shape, (x.shape[-1] * x.itemsize, x.itemsize)) if x.ndim == 2 else x
    return step(np.array(x), h, c, weight_ih, weight_hh, bias_ih, bias_hh)


_BUFFERS: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def reused_output(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """Writes every result into one preallocated pair of buffers and returns them."""
    h_new, c_new = step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh)
    key = (h_new.shape, h_new.dtype.str)
    out = _BUFFERS.setdefault(key, (np.empty_like(h_new), np.empty_like(c_new)))
    np.copyto(out[0], h_new)
    np.copyto(out[1], c_new)
    return out

blocked_body_in_storage = in_storage(blocked_body)
"""The blocked body at every storage dtype, half precision computed in float32."""


def _windowed_run(xs, h, c, *weights):
    """A sequence API that runs windows of ``WINDOW`` steps, each window's cell state from zero (h is carried)."""
    hs = []
    for t, x in enumerate(xs):
        if t and t % WINDOW == 0:
            c = np.zeros_like(c)
        h, c = step(x, h, c, *weights)
        hs.append(h)
    return np.stack(hs), (h, c)


windowed_sequence = with_sequence("windowed_sequence", _windowed_run,
                                  "A correct step whose declared sequence API restarts the cell state every 100 steps.")
