"""LiteRT (ai-edge-litert 2.3.0, TensorFlow 2.21), the fused UNIDIRECTIONAL_SEQUENCE_LSTM under full
integer quantization: the converter calibrates the int8 h state over h_0 and every h_t, but the op's
effective_hidden_scale_intermediate, the scale the integer kernel writes each new h at, over the h_t
alone; without a projection the kernel (EvalInteger8x8_16 in tensorflow/lite/kernels/lstm_eval.cc)
copies that int8 h into the state and the output, both read at the state's scale and zero point. Wherever
h_0's range reaches outside the outputs', the two differ: every h_t is output wrong and every step after
the first reads h wrong. Representative data set = the inputs run; random h_0, then h_0 = 0.
Run: python docs/repro/litert_fused_int8_lstm.py (needs numpy, tensorflow, ai-edge-litert)."""

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


def quantization(tensor):
    """``tensor``'s (scale, zero point)."""
    return tensor["quantization_parameters"]["scales"][0], tensor["quantization_parameters"]["zero_points"][0]


# the converter fuses a function that says it implements Keras's LSTM (prepare_composite_functions_tf.cc)
fused = tf.function(lstm, experimental_attributes={"api_implements": f"lstm_{uuid.uuid4().hex}",
                                                   "time_major": True, "go_backwards": False})
rng = np.random.default_rng(0)
T, B, I, H = 4, 2, 5, 3
weights = [tf.constant(rng.uniform(-0.5, 0.5, shape), tf.float32) for shape in ((I, 4 * H), (H, 4 * H), (4 * H,))]
xs, c0 = rng.uniform(-1, 1, (T, B, I)).astype(np.float32), rng.uniform(-1, 1, (B, H)).astype(np.float32)
initial = {"random h_0": rng.uniform(-1, 1, (B, H)).astype(np.float32), "h_0 = 0": np.zeros((B, H), np.float32)}
for label, h0 in initial.items():
    module = tf.Module()
    module.run = tf.function(lambda xs, h, c: fused(xs, h, c, *weights)[1],
                             input_signature=[tf.TensorSpec(a.shape) for a in (xs, h0, c0)])
    with tempfile.TemporaryDirectory() as folder:
        tf.saved_model.save(module, folder, signatures=module.run.get_concrete_function())
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        # the representative data set is the very inputs run below, fed by name (the signature orders them by name)
        converter.representative_dataset = lambda: iter([{"xs": xs, "h": h0, "c": c0}])
        interpreter = Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    tensors = interpreter.get_tensor_details()
    op = next(op for op in interpreter._get_ops_details() if op["op_name"] == "UNIDIRECTIONAL_SEQUENCE_LSTM")
    state = quantization(tensors[op["inputs"][18]])  # input 18: the h state (output_state)
    hidden = quantization(next(t for t in tensors if t["name"] == "effective_hidden_scale_intermediate"))
    inputs = {d["name"].removeprefix("serving_default_").split(":")[0]: d["index"]
              for d in interpreter.get_input_details()}
    for name, value in (("xs", xs), ("h", h0), ("c", c0)):
        interpreter.set_tensor(inputs[name], value)
    interpreter.invoke()
    hs = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    want = lstm(tf.constant(xs), tf.constant(h0), tf.constant(c0), *weights)[1].numpy()
    print(f"{label}: h_0 in [{h0.min():.2f}, {h0.max():.2f}], h_t (TensorFlow) in [{want.min():.2f}, {want.max():.2f}]")
    print(f"  h state: scale {state[0]:.5f}, zero point {state[1]}; "
          f"effective_hidden_scale_intermediate: scale {hidden[0]:.5f}, zero point {hidden[1]}")
    errors = np.abs(hs - want).max(axis=(1, 2))
    print("  max |h_t - h_t(TensorFlow float)| per step:", " ".join(f"{e:.4f}" for e in errors))
    # the output is dequantized at the state's scale; h_1's int8 values read at the intermediate's instead
    h1 = (np.round(hs[0] / state[0]) + state[1] - hidden[1]) * hidden[0]
    print(f"  h_1's int8 read at the intermediate's scale and zero point: max error {np.abs(h1 - want[0]).max():.4f}")
print("Finding: when h_0 leaves the outputs' range the h state's scale and zero point differ from the intermediate's "
      "the kernel writes h at, and every h_t is off by far more than one h step; with h_0 = 0 they agree: one h step.")
