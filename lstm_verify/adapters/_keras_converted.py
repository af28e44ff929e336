"""What the columns of a Keras 3 ``keras.layers.LSTM`` converted to another runtime share
(``keras-tensorflow-via-tf2onnx``, ``keras-tensorflow-via-tflite``): the layer in a functional
model holding marker weights (:mod:`~lstm_verify.adapters._markers`), in the form one call needs
(:class:`Form`), and the model of one parameter set, which runs each call through its form's
conversion. Imported only by those columns' ``load``, in a process whose ``KERAS_BACKEND`` is
tensorflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import keras
import numpy as np

from lstm_verify.adapters._keras import lstm_layer, require_backend
from lstm_verify.adapters._markers import marker_arrays
from lstm_verify.adapters.base import SequenceModel, State
from lstm_verify.layouts import Native

require_backend("tensorflow")

NAMES = ("w_ih", "w_hh", "b")
"""The layer's weights (kernel, recurrent kernel, bias) in the order the markers number them."""


@dataclass(frozen=True)
class Form:
    """What a converted model is made for, beyond the sizes and the dtype."""

    batch: int | None
    """The batch the model fixes, None for a dynamic one."""
    stated: bool
    """Inputs ``h``, ``c`` give the initial state (else Keras's zeros)."""
    masked: bool
    """Input ``mask`` (B, T), Keras's mask of a right-padded batch."""
    backward: bool
    """``go_backwards``."""


def marker_model(input_size: int, hidden: int, dtype: str, form: Form, marked: bool = True) -> keras.Model:
    """A functional model of one ``keras.layers.LSTM`` with marker weights (zeros unless ``marked``:
    a probe of what a converter accepts): inputs ``xs`` (B, T, I) and those of ``form``, outputs
    (hs (B, T, H), h_T, c_T), as a user builds one to convert."""
    with keras.device("cpu"):
        xs = keras.Input((None, input_size), batch_size=form.batch, dtype=dtype, name="xs")
        inputs, options = [xs], {}
        if form.stated:
            state = [keras.Input((hidden,), batch_size=form.batch, dtype=dtype, name=n) for n in ("h", "c")]
            inputs += state
            options["initial_state"] = state
        if form.masked:
            options["mask"] = keras.Input((None,), batch_size=form.batch, dtype="bool", name="mask")
            inputs.append(options["mask"])
        layer = lstm_layer(input_size, hidden, dtype, go_backwards=form.backward)
        shapes = {"w_ih": (input_size, 4 * hidden), "w_hh": (hidden, 4 * hidden), "b": (4 * hidden,)}
        if marked:
            layer.set_weights([v.astype(dtype) for v in marker_arrays(shapes).values()])
        return keras.Model(inputs, layer(xs, **options))


Run = Callable[["ConvertedModel", Form, dict[str, np.ndarray]], list[np.ndarray]]
"""A column's run of one call: ``(model, form, feeds by input name) -> [hs, h_T, c_T]``, batch-major."""


class ConvertedModel(SequenceModel):
    """One parameter set, each call run by ``run`` in its form; ``cache`` is the column's per-model
    store (an interpreter per form)."""

    def __init__(self, run: Run, native: Native, dtype: str, fixed_batch: bool) -> None:
        self.run, self.native, self.dtype, self.fixed_batch = run, native, dtype, fixed_batch
        self.flat = np.concatenate([np.ravel(native[n]) for n in NAMES])
        self.cache: dict[Form, object] = {}

    def sequence(self, xs: np.ndarray, state: State | None = None, *, lengths: np.ndarray | None = None,
                 reverse: bool = False) -> tuple[np.ndarray, State]:
        form = Form(xs.shape[1] if self.fixed_batch else None, state is not None, lengths is not None, reverse)
        feeds = {"xs": np.ascontiguousarray(xs.swapaxes(0, 1))}
        if state is not None:
            feeds["h"], feeds["c"] = state
        if lengths is not None:
            feeds["mask"] = np.arange(len(xs))[None, :] < np.asarray(lengths)[:, None]
        hs, h, c = self.run(self, form, feeds)
        hs = hs.swapaxes(0, 1)
        return hs[::-1] if reverse else hs, (h, c)  # go_backwards returns its outputs in processing order
