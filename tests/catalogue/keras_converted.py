"""A Keras LSTM converted wrong (``--kind adapter``, run with ``KERAS_BACKEND=tensorflow``): the
built-in converted Keras columns with a converter's reordering bug written into what they convert.

* :class:`Tf2OnnxSwappedForgetCell`: the ONNX ``LSTM`` node tf2onnx writes holds its forget and
  cell blocks in each other's place (W, R and both halves of B), as a converter that mapped
  Keras's i, f, c, o to i, o, c, f instead of ONNX's i, o, f, c would.
* :class:`TfliteSwappedGateBiases`: the converted flatbuffer holds the input and forget gates'
  biases in each other's place, as a converter writing the bias's blocks in the wrong order would.
"""

from __future__ import annotations

import numpy as np
from onnx import numpy_helper

from lstm_verify.adapters.keras_tf2onnx import KerasViaTf2Onnx
from lstm_verify.adapters.keras_tflite import KerasViaTflite

from litert_models import swapped_gate_biases  # beside this file: importable in the runner's workers too


class Tf2OnnxSwappedForgetCell(KerasViaTf2Onnx):
    name = "tf2onnx-swapped-forget-cell"

    def convert(self, input_size: int, hidden: int, dtype: str, form: object) -> object:
        model = super().convert(input_size, hidden, dtype, form)
        lstm = [n for n in model.graph.node if n.op_type == "LSTM"]
        weights = set(lstm[0].input[1:4]) if lstm else set()  # W, R, B (a masked call is a Loop: left as it is)
        for init in model.graph.initializer:
            if init.name in weights:
                value = numpy_helper.to_array(init)
                blocks = np.split(value, value.shape[1] // hidden, axis=1)  # gate blocks: 4 (W, R) or 8 (B)
                for k in range(0, len(blocks), 4):
                    blocks[k + 2], blocks[k + 3] = blocks[k + 3], blocks[k + 2]
                init.CopyFrom(numpy_helper.from_array(np.concatenate(blocks, axis=1), init.name))
        return model


class TfliteSwappedGateBiases(KerasViaTflite):
    name = "tflite-swapped-gate-biases"

    def convert(self, key: tuple) -> bytes:
        return swapped_gate_biases(super().convert(key), *key[:2])
