"""TensorFlow step functions: any ``cell(params, x, h, c) -> (h, c)`` on TF tensors gets a step
traced by ``tf.function`` and gradients by ``tf.GradientTape`` of the step, chained back through
time. Used by ``--kind tf-step`` targets, whose ``step(params, x, (h, c))`` takes params named by
:data:`~lstm_verify.layouts.TARGET_NAMES`.

Everything runs on the adapter's device (``tf.device``): the CPU unless ``--device`` names a GPU,
where the adapter turns TF32 off (``tf.config.experimental.enable_tensor_float_32_execution``, a
setting of the whole process), as a GPU build of TensorFlow would otherwise run float32 matmuls
in TF32 there.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np
import tensorflow as tf

from lstm_verify.adapters.base import Adapter, Capabilities, Model, NativeGrads, State, sequence_keywords
from lstm_verify.dtypes import STORAGE, numpy_dtype
from lstm_verify.layouts import TARGET_NAMES, TORCH, Layout, Native

Cell = Callable[[dict, tf.Tensor, tf.Tensor | None, tf.Tensor | None], tuple[tf.Tensor, tf.Tensor]]
CPU = "/CPU:0"


def step_cell(step: Callable) -> Cell:
    """A TARGET's ``step(params, x, (h, c))``, its params named by
    :data:`~lstm_verify.layouts.TARGET_NAMES`, as a cell on the layout's native parameters."""
    return lambda params, x, h, c: tuple(step({TARGET_NAMES[k]: v for k, v in params.items()}, x, (h, c)))


def converted_capabilities(capabilities: Capabilities, dtypes: tuple[str, ...]) -> Capabilities:
    """What a step's converted scan keeps of the capabilities it declared: those of ``dtypes`` it
    declared, a whole sequence forward from a given state; no gradients, lengths, reverse or
    unbatched input."""
    return replace(capabilities, dtypes=tuple(d for d in capabilities.dtypes if d in dtypes), gradients=False,
                   training=False, sequence=True, lengths=False, reverse=False, optional_state=False,
                   unbatched=False)


class TfFunctions:
    """The traced step of one cell function and its traced pullback, each traced once per
    (B, I, H, dtype) whatever the sequence length: back-propagation through time calls the
    pullback once per step (:meth:`bptt`), from that step's input state, the cotangents carried
    from one step to the one before in the implementation's dtype. A trace per sequence length
    would cost the gradient laws, which draw 1 to 1000 steps, a trace per draw."""

    def __init__(self, cell: Cell) -> None:
        def pullback(params: dict, x: tf.Tensor, h: tf.Tensor, c: tf.Tensor, gh: tf.Tensor, dh: tf.Tensor,
                     dc: tf.Tensor, acc: dict) -> tuple:
            with tf.GradientTape() as tape:
                tape.watch((params, x, h, c))
                out = cell(params, x, h, c)
            dp, dx, dh, dc = tape.gradient(out, (params, x, h, c), output_gradients=(gh + dh, dc),
                                           unconnected_gradients=tf.UnconnectedGradients.ZERO)
            return {k: acc[k] + dp[k] for k in acc}, dx, dh, dc

        self.step = tf.function(cell)
        self.pullback = tf.function(pullback)
        """One step back, ``(params, x, h, c, gh, dh, dc, acc) -> (acc + dparams, dx, dh, dc)``: the
        cotangents of the step's (h', c') are ``gh + dh`` and ``dc``."""

    def bptt(self, params: dict, xs: tf.Tensor, h0: tf.Tensor, c0: tf.Tensor, gh: tf.Tensor,
             gc: tf.Tensor) -> tuple[dict, tf.Tensor, tf.Tensor, tf.Tensor]:
        """Gradients of ``sum_t <gh_t, h_t> + <gc, c_T>`` with respect to (params, xs, h0, c0), one
        step at a time."""
        states = [(h0, c0)]
        for t in range(len(xs) - 1):
            states.append(tuple(self.step(params, xs[t], *states[-1])))
        acc = {k: tf.zeros_like(v) for k, v in params.items()}
        dh, dc, dxs = tf.zeros_like(h0), gc, []
        for t in reversed(range(len(xs))):
            acc, dx, dh, dc = self.pullback(params, xs[t], *states[t], gh[t], dh, dc, acc)
            dxs.append(dx)
        return acc, tf.stack(dxs[::-1]), dh, dc


def tensors(*arrays: np.ndarray | None) -> list[tf.Tensor | None]:
    """NumPy arrays (bfloat16 ones of ml_dtypes) as TF tensors of their dtype; None stays None."""
    return [None if a is None else tf.constant(a) for a in arrays]


class TfModel(Model):
    """Native parameters (renamed by ``names``) held as TF tensors of ``dtype`` on ``device``. No
    state is passed on as None (only to a function that declares its state optional)."""

    def __init__(self, fns: TfFunctions, native: Native, dtype: str, names: dict[str, str],
                 sequence: Callable | None = None, device: str = CPU) -> None:
        self.fns, self.dtype, self.names, self.sequence_fn, self.device = fns, dtype, names, sequence, device
        with tf.device(device):
            self.params = {names[k]: tf.constant(v) for k, v in native.items()}

    def step(self, x: np.ndarray, state: State | None = None) -> State:
        with tf.device(self.device):
            h, c = self.fns.step(self.params, *tensors(x, *(state or (None, None))))
        return h.numpy(), c.numpy()

    def sequence(self, xs: np.ndarray, state: State | None = None, *, lengths: np.ndarray | None = None,
                 reverse: bool = False) -> tuple[np.ndarray, State]:
        if self.sequence_fn is None:
            return super().sequence(xs, state)
        with tf.device(self.device):
            xs, *state = tensors(xs, *(state or (None, None)))
            hs, (h, c) = self.sequence_fn(self.params, xs, None if state[0] is None else tuple(state),
                                          **sequence_keywords(lengths, reverse))
        return hs.numpy(), (h.numpy(), c.numpy())

    def grads(self, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray,
              gh: np.ndarray, gc: np.ndarray) -> NativeGrads:
        dtype = numpy_dtype(self.dtype)
        inputs = tensors(*(np.asarray(a, dtype) for a in (xs, h0, c0, gh, gc)))
        with tf.device(self.device):
            gp, gx, gh0, gc0 = self.fns.bptt(self.params, *inputs)
        back = {v: k for k, v in self.names.items()}
        return NativeGrads(gx.numpy(), gh0.numpy(), gc0.numpy(), {back[k]: v.numpy() for k, v in gp.items()})


class TfStepAdapter(Adapter):
    """A user's ``step(params, x, (h, c)) -> (h, c)`` on TF tensors, ``params`` the layout's native
    arrays named by :data:`~lstm_verify.layouts.TARGET_NAMES`; the state is None when the
    capabilities declare it optional. A declared ``sequence(params, xs, (h, c), [lengths=...,
    reverse=...]) -> (hs, (h, c))`` is the sequence API, called eagerly; gradients are
    ``tf.GradientTape`` of the step, chained back through time (:meth:`TfFunctions.bptt`). It runs
    on ``device`` (``/CPU:0``, ``/GPU:N``)."""

    requires = ("tensorflow",)

    def __init__(self, step: Callable, name: str = "tf-step", layout: Layout = TORCH,
                 sequence: Callable | None = None,
                 capabilities: Capabilities = Capabilities(gradients=True, training=True, optional_state=False,
                                                           dtypes=STORAGE),
                 device: str = CPU) -> None:
        self.name, self.layout, self.capabilities, self.sequence_fn = name, layout, capabilities, sequence
        self.device = device
        if device != CPU:
            tf.config.experimental.enable_tensor_float_32_execution(False)

        def cell(params: dict, x: tf.Tensor, h: tf.Tensor | None, c: tf.Tensor | None) -> tuple:
            return tuple(step(params, x, None if h is None else (h, c)))
        self.fns = TfFunctions(cell)

    def version(self) -> str:
        """``tensorflow-cpu`` and ``tensorflow`` are both the module ``tensorflow``."""
        return f"tensorflow {tf.__version__}"

    def load(self, native: Native, dtype: str) -> Model:
        return TfModel(self.fns, native, dtype, TARGET_NAMES, self.sequence_fn, self.device)
