"""TensorFlow's fused LSTM ops: ``tf.raw_ops.LSTMBlockCell`` (the step) and ``BlockLSTM`` (the
sequence, and the gradients: TensorFlow registers ``BlockLSTMGrad`` for it, and no gradient for
``LSTMBlockCell``, ``LookupError: gradient registry has no entry for: LSTMBlockCell``).

Both take one kernel ``w`` (I+H, 4H) over ``[x, h]``, one bias ``b`` (4H), gate blocks i, ci, f, o,
and add ``forget_bias`` to f's pre-activation at run time (tensorflow/core/kernels/rnn/lstm_ops.h,
``LSTMBlockCellFpropWithEigen``: ``icfo = xh * w + b``, ``f = sigmoid(icfo_f + forget_bias)``):
:data:`~lstm_verify.layouts.TF1`, ``forget_bias`` its forget offset, 1 (the ops' default).
``cell_clip`` clips the cell state itself after its update, so h and o's peephole read the
clipped cell (``cs = clip(cs)``, then ``co = tanh(cs)``): the ``cell`` reading of
:data:`~lstm_verify.reference.CLIP_READINGS`. The ops clip at 3 unless told otherwise; the
plain LSTM is loaded with ``cell_clip=-1`` (no clip: the kernel clips only when it is positive).
Peepholes ``wci, wcf, wco`` read c_{t-1} (i, f) and the new c_t (o). The ops take ``half`` and
``float`` only. ``BlockLSTMV2`` is the same cell in gate order i, f, ci, o without
``forget_bias``; it is not run here.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import tensorflow as tf
from tensorflow.python.framework import op_def_registry

from lstm_verify.adapters.base import Adapter, Capabilities, Model, NativeGrads, State
from lstm_verify.adapters.tf_step import CPU, tensors
from lstm_verify.expected import Expected
from lstm_verify.layouts import TF1, Native
from lstm_verify.reference import CLIP_READINGS, PLAIN, Variant

NO_CLIP = -1.0
"""``cell_clip`` that clips nothing (the ops clip when it is positive)."""


def attributes(forget_bias: float, variant: Variant) -> dict[str, object]:
    """The ops' attributes that say ``variant`` (peepholes, ``cell_clip``) with ``forget_bias``."""
    return {"forget_bias": forget_bias, "use_peephole": variant.peepholes,
            "cell_clip": NO_CLIP if variant.clip is None else float(variant.clip)}


def peepholes(native: Native, variant: Variant) -> list[np.ndarray]:
    """``wci, wcf, wco``: the native ``p`` split, or zeros without peepholes."""
    hidden = len(native["b"]) // 4
    return np.split(native["p"] if variant.peepholes else np.zeros(3 * hidden, native["b"].dtype), 3)


class TfBlockModel(Model):
    """The native parameters as tensors, run by ``LSTMBlockCell`` (a step) or ``BlockLSTM``."""

    def __init__(self, native: Native, forget_bias: float, variant: Variant) -> None:
        self.w, self.b = tf.constant(native["w"]), tf.constant(native["b"])
        self.wci, self.wcf, self.wco = (tf.constant(p) for p in peepholes(native, variant))
        self.attrs = attributes(forget_bias, variant)

    def _weights(self) -> dict[str, tf.Tensor]:
        return {"w": self.w, "wci": self.wci, "wcf": self.wcf, "wco": self.wco, "b": self.b}

    def step(self, x: np.ndarray, state: State | None = None) -> State:
        x, h, c = tensors(x, *state)
        with tf.device(CPU):
            out = tf.raw_ops.LSTMBlockCell(x=x, cs_prev=c, h_prev=h, **self._weights(), **self.attrs)
        return out.h.numpy(), out.cs.numpy()

    def _run(self, xs: tf.Tensor, h0: tf.Tensor, c0: tf.Tensor, weights: dict[str, tf.Tensor]) -> tuple:
        out = tf.raw_ops.BlockLSTM(seq_len_max=tf.constant(len(xs), tf.int64), x=xs, cs_prev=c0, h_prev=h0,
                                   **weights, **self.attrs)
        return out.h, out.cs[-1]

    def sequence(self, xs: np.ndarray, state: State | None = None, *, lengths: np.ndarray | None = None,
                 reverse: bool = False) -> tuple[np.ndarray, State]:
        if lengths is not None or reverse:
            raise NotImplementedError("BlockLSTM takes one seq_len_max for the batch, and runs forward only")
        with tf.device(CPU):
            hs, c = self._run(*tensors(xs, *state), self._weights())
        return hs.numpy(), (hs[-1].numpy(), c.numpy())

    def grads(self, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray,
              gh: np.ndarray, gc: np.ndarray) -> NativeGrads:
        xs, h0, c0, gh, gc = tensors(xs, h0, c0, gh, gc)
        weights = self._weights()
        with tf.device(CPU), tf.GradientTape() as tape:
            tape.watch((xs, h0, c0, weights))
            hs, c = self._run(xs, h0, c0, weights)
        dx, dh0, dc0, dw = tape.gradient((hs, c), (xs, h0, c0, weights), output_gradients=(gh, gc),
                                         unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return NativeGrads(dx.numpy(), dh0.numpy(), dc0.numpy(), {"w": dw["w"].numpy(), "b": dw["b"].numpy()})


@cache
def _dtype_error(dtype: str) -> str | None:
    """TensorFlow's own message for the ops at ``dtype``, or None where they run."""
    zeros = tf.zeros((1, 4), dtype)
    try:
        tf.raw_ops.LSTMBlockCell(x=zeros, cs_prev=zeros[:, :1], h_prev=zeros[:, :1], w=tf.zeros((5, 4), dtype),
                                 wci=zeros[0, :1], wcf=zeros[0, :1], wco=zeros[0, :1], b=zeros[0])
    except (tf.errors.InvalidArgumentError, TypeError) as exc:
        return f"tf.raw_ops.LSTMBlockCell: {str(exc).splitlines()[0]}"
    return None


class TfBlockAdapter(Adapter):
    name = "tf-block"
    requires = ("tensorflow",)
    layout = TF1
    capabilities = Capabilities(dtypes=("float16", "float32"), gradients=True, training=True, sequence=True,
                                optional_state=False, variants=True)
    clip_reading = "cell"
    """What ``cell_clip`` clips (:data:`~lstm_verify.reference.CLIP_READINGS`)."""
    clip_source = "lstm_ops.h, LSTMBlockCellFpropWithEigen"
    """Where the cell's clip is computed: the evidence for :attr:`clip_reading`."""

    def version(self) -> str:
        """``tensorflow-cpu`` and ``tensorflow`` are both the module ``tensorflow``."""
        return f"tensorflow {tf.__version__}"

    def unsupported(self, dtype: str) -> str | None:
        return (_dtype_error(dtype) or super().unsupported(dtype)) if dtype not in self.capabilities.dtypes else None

    def unsupported_variant(self, variant: Variant) -> str | None:
        """The ops take no activations and no coupled gates: their attributes are the op
        definition's."""
        if variant.input_forget or (variant.f, variant.g, variant.h) != (PLAIN.f, PLAIN.g, PLAIN.h):
            attrs = [a.name for a in op_def_registry.get("LSTMBlockCell").attr if a.name != "T"]
            return (f"tf.raw_ops.LSTMBlockCell and BlockLSTM compute sigmoid gates and tanh, uncoupled: their "
                    f"attributes are {', '.join(attrs)}")
        return None

    def explain(self, variant: Variant) -> str | None:
        if variant.clip is None or variant.clip_reading == self.clip_reading:
            return None
        return (f"{self.name}'s cell_clip reads clip as {self.clip_reading!r}: it "
                f"{CLIP_READINGS[self.clip_reading][1]} ({self.clip_source})")

    def precision(self, dtype: str) -> str:
        """In float16 the CPU kernels accumulate their matrix product in float16: ``TensorBlasGemm``
        without cuBLAS is Eigen's ``contract`` on ``Eigen::half`` (lstm_ops.h), every addition rounded
        to half. Measured with tensorflow-cpu 2.21.0 at (B, I, H) = (33, 512, 512), one step, seed 0:
        its largest error is 0.021, a float16 sequential sum's 0.019, every float16 implementation
        that accumulates in float32 0.0032 at most (keras-tensorflow's ``tf.matmul`` among them), at
        0.81 of the ``ieee`` bound and 0.11 of this one (``python -m tests.catalogue.calibration``)."""
        return "reduced-accumulation" if dtype == "float16" else super().precision(dtype)

    def known_differences(self, dtype: str) -> list[Expected]:
        """``test_clip_agrees_with_reference`` in the specification's reading: ``cell_clip`` clips the
        cell state, no gate (the ``cell`` reading, tested in tests/test_tf.py)."""
        return [Expected("test_clip_agrees_with_reference", self.explain(Variant(clip=1.0)),
                         match=r"^(hs|final [hc])\[.*clip_reading='spec'")]

    def load(self, native: Native, dtype: str) -> Model:
        return TfBlockModel(native, self.layout.forget_offset, PLAIN)

    def load_variant(self, native: Native, dtype: str, variant: Variant) -> Model:
        return TfBlockModel(native, self.layout.forget_offset, variant)
