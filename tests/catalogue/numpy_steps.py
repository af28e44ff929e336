"""NumPy steps as users write them: ``step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh)``.
``step``, ``step_sigmoid_via_tanh``, ``declared_step``, ``storage_step``, ``spec_clip_step``, ``cell_clip_step``
and ``peephole_step`` are correct; every other one carries one real bug."""

import functools

import numpy as np

from lstm_verify import Variant, capabilities
from lstm_verify.dtypes import STORAGE


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _gates(z):
    i, f, g, o = np.split(z, 4, axis=-1)
    return _sigmoid(i), _sigmoid(f), np.tanh(g), _sigmoid(o)


def step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    i, f, g, o = _gates(x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh)
    c = f * c + i * g
    return o * np.tanh(c), c


def step_sigmoid_via_tanh(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """Correct but unusual: per-gate matmuls on views, sigmoid written as 1/(1+exp(-z)) stably."""
    hidden = h.shape[-1]
    pre = [x @ weight_ih[k * hidden:(k + 1) * hidden].T + h @ weight_hh[k * hidden:(k + 1) * hidden].T
           + (bias_ih + bias_hh)[k * hidden:(k + 1) * hidden] for k in range(4)]
    sig = [np.exp(-np.logaddexp(0, -z)).astype(z.dtype) for z in pre]
    c = sig[1] * c + sig[0] * np.tanh(pre[2])
    return sig[3] * np.tanh(c), c


def hard_sigmoid(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    z = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
    i, f, g, o = np.split(z, 4, axis=-1)
    hs = lambda v: np.clip(0.2 * v + 0.5, 0, 1).astype(v.dtype)  # noqa: E731
    c = hs(f) * c + hs(i) * np.tanh(g)
    return hs(o) * np.tanh(c), c


def _tanh_saturating_at_7(z):
    """A fast tanh's saturation set too early: +-1 from |z| = 7, where tanh is still 1.7e-6 from 1."""
    return np.where(np.abs(z) < 7, np.tanh(z), np.sign(z)).astype(z.dtype)


def early_saturating_tanh(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    i, f, g, o = np.split(x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh, 4, axis=-1)
    c = _sigmoid(f) * c + _sigmoid(i) * _tanh_saturating_at_7(g)
    return _sigmoid(o) * _tanh_saturating_at_7(c), c


def _tanh_clamped_at_10(z):
    """An overflow guard kept from float32 code: tanh(clip(z, -10, 10)). Harmless in float32, where
    tanh(10) rounds to 1; in float64 tanh(10) is 1 - 4.1e-9, and every |z| > 10 lands that far off."""
    return np.tanh(np.clip(z, -10.0, 10.0))


def clamped_tanh(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    i, f, g, o = np.split(x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh, 4, axis=-1)
    c = _sigmoid(f) * c + _sigmoid(i) * _tanh_clamped_at_10(g)
    return _sigmoid(o) * _tanh_clamped_at_10(c), c


def dropped_recurrent_bias(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    i, f, g, o = _gates(x @ weight_ih.T + bias_ih + h @ weight_hh.T)
    c = f * c + i * g
    return o * np.tanh(c), c


def previous_cell_readout(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    i, f, g, o = _gates(x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh)
    h = o * np.tanh(c)
    return h, f * c + i * g


def float16_accumulation(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    half = [a.astype(np.float16) for a in (x, h, weight_ih, weight_hh, bias_ih, bias_hh)]
    z = (half[0] @ half[2].T + half[4] + half[1] @ half[3].T + half[5]).astype(x.dtype)
    i, f, g, o = _gates(z)
    c = f * c + i * g
    return o * np.tanh(c), c


def batch_leak(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    h = h - h.mean(axis=0, keepdims=True) * 0.5
    return step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh)


def squeezed_batch(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    h, c = step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh)
    return np.squeeze(h), np.squeeze(c)


def in_place_update(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    i, f, g, o = _gates(x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh)
    c *= f
    c += i * g
    return o * np.tanh(c), c


_last = {}


def cached_state(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """Keeps the last h in a module global and resumes from it (a 'stateful' port)."""
    h = _last.get(h.shape, h)
    h, c = step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh)
    _last[h.shape] = h
    return h, c


def unsquashed_readout(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    i, f, g, o = _gates(x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh)
    c = f * c + i * g
    return o * c, c


def clipped_cell(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    h, c = step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh)
    return h, np.clip(c, -1.0, 1.0)


CLIP = 0.5


def _clipping(x, h, c, weights, where):
    """The step with its values bounded to [-CLIP, CLIP] at ``where``: the gate pre-activations,
    the input of h's tanh, the cell state itself."""
    bound = (lambda v, at: np.clip(v, -CLIP, CLIP) if at in where else v)  # noqa: E731
    weight_ih, weight_hh, bias_ih, bias_hh = weights
    i, f, g, o = _gates(bound(x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh, "gates"))
    c = bound(f * c + i * g, "cell")
    return o * np.tanh(bound(c, "h")), c


@capabilities(clip=CLIP)
def spec_clip_step(x, h, c, *weights):
    """Correct: ONNX's clip as its specification says, on every activation's input, h's included."""
    return _clipping(x, h, c, weights, ("gates", "h"))


@capabilities(clip=CLIP, clip_reading="cell")
def cell_clip_step(x, h, c, *weights):
    """Correct: TensorFlow's ``LSTMBlockCell(cell_clip=0.5)``, the cell state clipped (and carried
    clipped), no gate."""
    return _clipping(x, h, c, weights, ("cell",))


@capabilities(clip=CLIP)
def gates_only_clip_step(x, h, c, *weights):
    """Declares ONNX's clip in the specification's reading, but clips the gate pre-activations
    only, as onnxruntime and OpenVINO do: h reads the unclipped cell."""
    return _clipping(x, h, c, weights, ("gates",))


def _peephole_step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh, p_i, p_f, p_o):
    zi, zf, zg, zo = np.split(x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh, 4, axis=-1)
    c = _sigmoid(zf + p_f * c) * c + _sigmoid(zi + p_i * c) * np.tanh(zg)
    return _sigmoid(zo + p_o * c) * np.tanh(c), c


@capabilities(variant=Variant(peepholes=True))
def peephole_step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh, weight_peephole):
    """Correct: a peephole LSTM, ``weight_peephole`` (3H) the blocks p_i, p_f, p_o (torch's layout's
    order); i and f read the previous cell, o the new one."""
    return _peephole_step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh, *np.split(weight_peephole, 3, axis=-1))


@capabilities(variant=Variant(peepholes=True))
def dropped_forget_peephole(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh, weight_peephole):
    """A peephole LSTM without the forget gate's peephole (a port that kept only i's and o's)."""
    p_i, p_f, p_o = np.split(weight_peephole, 3, axis=-1)
    return _peephole_step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh, p_i, np.zeros_like(p_f), p_o)


def overflowing_tanh(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    def tanh(v):
        with np.errstate(over="ignore", invalid="ignore"):
            e = np.exp(2 * v)
            return (e - 1) / (e + 1)
    z = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
    i, f, g, o = np.split(z, 4, axis=-1)
    c = _sigmoid(f) * c + _sigmoid(i) * tanh(g)
    return _sigmoid(o) * tanh(c), c


def upcast_output(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    h, c = step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh)
    return h.astype(np.float64), c.astype(np.float64)


def swapped_gate_blocks(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """Reads the blocks as i, f, o, g (a Keras/ONNX-style order mixed up with torch's)."""
    z = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
    i, f, o, g = np.split(z, 4, axis=-1)
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(c), c


def raises(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    raise RuntimeError("CUDA kernel launch failed: invalid configuration argument")


def hangs(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    while True:
        pass


def returns_nan(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    h, c = step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh)
    return h * np.nan, c


def _run(xs, h, c, weight_ih, weight_hh, bias_ih, bias_hh, lengths=None, reverse=False):
    """A sequence API: each row of a right-padded batch runs over its own ``lengths``, forward or
    from its last valid step back (outputs in input time order); no state is the zero state."""
    if h is None:
        h = c = np.zeros((*xs.shape[1:-1], weight_hh.shape[1]), xs.dtype)
    lengths = np.full(xs.shape[1], len(xs)) if lengths is None else np.asarray(lengths)
    hs = np.zeros((*xs.shape[:-1], h.shape[-1]), xs.dtype)
    for t in range(len(xs))[::-1] if reverse else range(len(xs)):
        live = (t < lengths)[:, None]
        h_t, c_t = step(xs[t], h, c, weight_ih, weight_hh, bias_ih, bias_hh)
        hs[t], h, c = h_t, np.where(live, h_t, h), np.where(live, c_t, c)
    return hs, (h, c)


@capabilities(optional_state=True, unbatched=True, sequence=_run, lengths=True, reverse=True)
def declared_step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """Correct, and declares all a step function can: a default state, unbatched input and a
    sequence API with lengths and reverse."""
    if h is None:
        h = c = np.zeros((*x.shape[:-1], weight_hh.shape[1]), x.dtype)
    return step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh)


def _float64_outputs_run(xs, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """A sequence API whose output buffer is ``np.zeros((T, B, H))`` without a dtype: float64 hs."""
    hs = np.zeros((*xs.shape[:-1], weight_hh.shape[1]))
    for t, x in enumerate(xs):
        h, c = step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh)
        hs[t] = h
    return hs, (h, c)


def with_sequence(name, sequence, doc):
    """The correct ``step``, named ``name``, declaring ``sequence`` as its sequence API."""
    def stepped(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
        return step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh)
    stepped.__name__ = stepped.__qualname__ = name
    stepped.__doc__ = doc
    return capabilities(sequence=sequence)(stepped)


float64_sequence_outputs = with_sequence("float64_sequence_outputs", _float64_outputs_run,
                                         "A correct step whose sequence API returns float64 for float32 inputs.")


_carried: dict = {}


def _stateful_run(xs, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """A 'stateful' sequence API (as Keras's ``stateful=True``): the state passed in starts its
    first call only; every later call continues from where the last one ended."""
    key = (xs.shape[1], weight_hh.shape[1], xs.dtype.str)
    h, c = _carried.get(key, (h, c))
    hs, (h, c) = _run(xs, h, c, weight_ih, weight_hh, bias_ih, bias_hh)
    _carried[key] = (h, c)
    return hs, (h, c)


stateful_sequence = with_sequence("stateful_sequence", _stateful_run,
                                  "A correct step whose declared sequence API is 'stateful'.")


_ended: dict = {}


def _continuing_run(xs, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """A streaming sequence API that, given no state, continues from where its last call ended."""
    weights = (weight_ih, weight_hh, bias_ih, bias_hh)
    if h is None:
        h, c = _ended.get((xs.shape[1], weight_hh.shape[1]), (None, None))
    hs, (h, c) = _run(xs, h, c, *weights)
    _ended[h.shape] = (h, c)
    return hs, (h, c)


@capabilities(optional_state=True, sequence=_continuing_run)
def continuing_default_state(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """A step whose own default state is zeros, with a sequence API whose default is the state its
    previous call ended in: one sequence leaks into the next through the default."""
    if h is None:
        h = c = np.zeros((*x.shape[:-1], weight_hh.shape[1]), x.dtype)
    return step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh)


@capabilities(optional_state=True)
def float64_default_state(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """Declares an optional state and makes it with ``np.zeros`` without a dtype: float64, which
    upcasts a float32 step called without a state (with a state given it keeps float32)."""
    if h is None:
        h = c = np.zeros((*x.shape[:-1], weight_hh.shape[1]))
    return step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh)


@capabilities(optional_state=True)
def nonzero_default_state(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """Declares an optional state but fills the default with ones (``np.ones`` for ``np.zeros``)."""
    if h is None:
        h = c = np.ones((*x.shape[:-1], weight_hh.shape[1]), x.dtype)
    return step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh)


def in_storage(fn):
    """``fn`` declared for every storage dtype: float16 and bfloat16 (``ml_dtypes``) arrays are
    computed in float32 and the results rounded back to the storage dtype."""
    @capabilities(dtypes=STORAGE)
    @functools.wraps(fn)
    def wrapped(x, h, c, *weights):
        dtype = x.dtype
        wide = np.float32 if dtype.itemsize < 4 else dtype
        h, c = fn(*(a.astype(wide) for a in (x, h, c, *weights)))
        return h.astype(dtype), c.astype(dtype)
    return wrapped


storage_step = in_storage(step)
"""Correct at every storage dtype."""


@capabilities(dtypes=("bfloat16",))
def promoting_bfloat16_step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """The plain step on ``ml_dtypes.bfloat16`` arrays: their matmul returns float32 and NumPy
    promotes from there, so h and c come back float32."""
    return step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh)
