"""``keras-tensorflow-via-tflite``: a Keras 3 ``keras.layers.LSTM`` (TensorFlow back end) in a
functional model, converted by ``tf.lite.TFLiteConverter.from_keras_model`` (default settings) and
run by LiteRT's interpreter: the path of a Keras model deployed to LiteRT.

What TensorFlow 2.21's converter makes of it: a ``WHILE`` of the cell's ordinary ops, never the
fused ``UNIDIRECTIONAL_SEQUENCE_LSTM``. The fusion needs a function whose ``api_implements``
attribute starts with ``lstm_`` (see :mod:`lstm_verify.adapters.litert_lstm`); tf.keras 2 gave its
layer's standard and cuDNN bodies that attribute, Keras 3 gives none (keras/src has no
``api_implements``): on the CPU it runs its generic RNN loop (keras/src/backend/tensorflow/rnn.py's
``lstm`` serves cuDNN only). So no cell clip at 10 either: the converted loop computes the layer.
The converter lowers the loop's ``TensorList`` only with a static element shape: a model with an
unknown batch is refused ("'tf.TensorListReserve' op requires element_shape to be static during
TF Lite transformation pass"), in each of ``from_keras_model``, ``from_concrete_functions`` (which
keeps the weights as ``VAR_HANDLE`` resources) and ``from_saved_model`` (which refuses a fixed
batch too, from ``model.export``). The batch is fixed, the sequence length dynamic.

Weights: converted once per (I, H, B, form) with marker weights, the flatbuffer's marker buffers
patched per parameter set (:class:`~lstm_verify.adapters.litert_lstm.Program`). float32 only: the
converter refuses the other dtypes (its message is the skip).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from lstm_verify.adapters.base import Capabilities, Model
from lstm_verify.adapters.litert_lstm import LiteRtAdapter, cached_refusal
from lstm_verify.dtypes import STORAGE
from lstm_verify.layouts import Native


def convert(input_size: int, hidden: int, dtype: str, form: object) -> bytes:
    """The marker model of these sizes, dtype and form through ``from_keras_model``."""
    import tensorflow as tf

    from lstm_verify.adapters._keras_converted import marker_model

    return tf.lite.TFLiteConverter.from_keras_model(marker_model(input_size, hidden, dtype, form)).convert()


class KerasViaTflite(LiteRtAdapter):
    """A Keras 3 LSTM through ``TFLiteConverter`` and LiteRT (see the module docstring): whole
    sequences from a given state or Keras's zeros, masked lengths, ``go_backwards``."""

    name = "keras-tensorflow-via-tflite"
    requires = ("keras", "tensorflow", "ai_edge_litert")
    distributions = ("keras", "tensorflow-cpu", "ai-edge-litert")
    environment = {"KERAS_BACKEND": "tensorflow"}
    capabilities = Capabilities(dtypes=STORAGE, sequence=True, lengths=True, reverse=True)

    def convert(self, key: tuple) -> bytes:
        """``key`` is (I, H, form): the form fixes the batch."""
        return convert(*key[:2], "float32", key[2])

    def run(self, model: object, form: object, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """One call of ``model`` (a :class:`~lstm_verify.adapters._keras_converted.ConvertedModel`):
        its interpreter of ``form``'s conversion, made once per model."""
        if form not in model.cache:
            input_size, hidden = model.native["w_ih"].shape
            interpreter = self.program((input_size, hidden // 4, form)).interpreter(model.native)
            model.cache[form] = interpreter.get_signature_runner()
        outputs = model.cache[form](**{k: np.asarray(v) for k, v in feeds.items()})
        return [outputs[f"output_{k}"] for k in range(3)]

    def unsupported(self, dtype: str) -> str | None:
        return None if dtype == "float32" else _refusal(dtype)

    def load(self, native: Native, dtype: str) -> Model:
        from lstm_verify.adapters._keras_converted import ConvertedModel

        return ConvertedModel(self.run, native, dtype, fixed_batch=True)


@cache
def _refusal(dtype: str) -> str:
    """The converter's (or LiteRT's) message for a one-unit layer at ``dtype``."""
    from lstm_verify.adapters._keras_converted import Form

    said = cached_refusal(("keras-tflite", dtype, KerasViaTflite().version()),
                          lambda: convert(1, 1, dtype, Form(1, True, False, False)), (__name__,))
    return f"LiteRT refuses the layer converted at {dtype}: {said}" if said else "declared for float32 only"
