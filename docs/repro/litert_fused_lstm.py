"""LiteRT (ai-edge-litert 2.3.0, TensorFlow 2.21) against Keras's LSTM: the converter's fused
UNIDIRECTIONAL_SEQUENCE_LSTM clips the cell state to [-10, 10] (ConvertKerasLSTMLayer in
tensorflow/compiler/mlir/lite/utils/lstm_utils.cc sets cell_clip = 10), which the layer it
replaces never does. One unit, one batch row, forget gate open, input gate shut: c is carried.
Run: python docs/repro/litert_fused_lstm.py (needs numpy, tensorflow, ai-edge-litert)."""

import os
import tempfile
import uuid

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402


def lstm(xs, h, c, kernel, recurrent_kernel, bias):
    """Keras's standard_lstm signature and results (h_T, hs, h_T, c_T, 0), time major, plain ops."""
    def step(state, x):
        h, c = state
        i, f, g, o = tf.split(x @ kernel + h @ recurrent_kernel + bias, 4, axis=-1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        return tf.sigmoid(o) * tf.tanh(c), c

    hs, cs = tf.scan(step, xs, initializer=(h, c))
    return hs[-1], hs, hs[-1], cs[-1], tf.zeros([])


# the converter fuses a function that says it implements Keras's LSTM (prepare_composite_functions_tf.cc)
fused = tf.function(lstm, experimental_attributes={"api_implements": f"lstm_{uuid.uuid4().hex}",
                                                   "time_major": True, "go_backwards": False})
bias = tf.constant([[-30.0, 30.0, 0.0, 30.0]])  # i shut, f and o open: c_t = c_0, h_t = tanh(c_0)
weights = (tf.zeros([1, 4]), tf.zeros([1, 4]), tf.reshape(bias, [4]))
module = tf.Module()
module.run = tf.function(lambda xs, h, c: fused(xs, h, c, *weights)[1],
                         input_signature=[tf.TensorSpec([None, 1, 1]), tf.TensorSpec([1, 1]), tf.TensorSpec([1, 1])])
with tempfile.TemporaryDirectory() as folder:
    tf.saved_model.save(module, folder, signatures=module.run.get_concrete_function())
    flatbuffer = tf.lite.TFLiteConverter.from_saved_model(folder).convert()
interpreter = Interpreter(model_content=flatbuffer)
print("ops:", sorted({op["op_name"] for op in interpreter._get_ops_details()}))
inputs = {d["name"].removeprefix("serving_default_").split(":")[0]: d["index"] for d in interpreter.get_input_details()}
xs, h0 = np.zeros((3, 1, 1), np.float32), np.zeros((1, 1), np.float32)
interpreter.resize_tensor_input(inputs["xs"], xs.shape)
interpreter.allocate_tensors()
for c0 in (5.0, 20.0):
    for name, value in (("xs", xs), ("h", h0), ("c", np.full((1, 1), c0, np.float32))):
        interpreter.set_tensor(inputs[name], value)
    interpreter.invoke()
    c_t = interpreter.get_tensor(inputs["c"])[0, 0]  # the op writes its final state into its state input
    want = lstm(tf.constant(xs), tf.constant(h0), tf.constant([[c0]]), *weights)[3].numpy()[0, 0]
    print(f"c_0 = {c0:g}, 3 steps carrying c: c_3 = {c_t:g} on LiteRT, {want:g} in TensorFlow")
