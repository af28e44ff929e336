"""OpenCV dnn (opencv-python-headless 5.0.0.93) against the ONNX LSTM operator: each finding of
docs/onnx.md, one LSTM node with zero weights but the one that matters, hidden_size 1, one batch row.
Run: python docs/repro/opencv_lstm.py (needs onnx, numpy, opencv-python-headless)."""

import cv2
import numpy as np
from onnx import TensorProto, helper

INPUTS = ("X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P")


def outputs(feeds, dtype=np.float32, **attributes):
    """The node's Y, Y_h, Y_c on OpenCV for ``feeds`` (by input name), opset 14."""
    names = [n if n in feeds else "" for n in INPUTS[:max(INPUTS.index(n) for n in feeds) + 1]]
    element = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    rank = {"B": 2, "P": 2, "sequence_lens": 1, "Y": 4}
    info = [helper.make_tensor_value_info(n, TensorProto.INT32 if n == "sequence_lens" else element,
                                          [f"{n}{k}" for k in range(rank.get(n, 3))]) for n in (*names, "Y", "Y_h", "Y_c") if n]
    node = helper.make_node("LSTM", names, ["Y", "Y_h", "Y_c"], hidden_size=1, **attributes)
    graph = helper.make_graph([node], "lstm", info[:-3], info[-3:])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], ir_version=8)
    net = cv2.dnn.readNetFromONNX(np.frombuffer(model.SerializeToString(), np.uint8))
    for name, value in feeds.items():
        net.setInput(value.astype(np.int32 if name == "sequence_lens" else dtype), name)
    return net.forward(["Y", "Y_h", "Y_c"])


def run(feeds, dtype=np.float32, **attributes):
    """:func:`outputs`, flattened."""
    return [y.ravel() for y in outputs(feeds, dtype, **attributes)]


def zeros(steps=1, **inputs):
    """Zero X, W, R, B (gate blocks i, o, f, c) and states, updated with ``inputs``."""
    feeds = {"X": np.zeros((steps, 1, 1)), "W": np.zeros((1, 4, 1)), "R": np.zeros((1, 4, 1)),
             "B": np.zeros((1, 8)), "initial_h": np.zeros((1, 1, 1)), "initial_c": np.zeros((1, 1, 1))}
    return {**feeds, **inputs}


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


c0 = np.ones((1, 1, 1))
b_o = np.array([[0, 1, 0, 0, 0, 0, 0, 0.0]])  # Wb_o = 1: o = sigmoid(1), f = 1/2
for dtype in (np.float32, np.float64):
    print(f"{dtype.__name__}: b_o = 1, c_0 = 1 -> c_1 = f c_0 = {run(zeros(B=b_o, initial_c=c0), dtype)[2][0]:.4f}, "
          f"ONNX: {0.5:.4f} (o and f swapped: {sigmoid(1.0):.4f})")

xs = np.array([1.0, 0.0]).reshape(2, 1, 1)
w_c = np.array([0, 0, 0, 1.0]).reshape(1, 4, 1)  # g = tanh(x): only the step with x = 1 writes c
y, y_h, y_c = run(zeros(2, X=xs, W=w_c), direction="reverse")
print(f"direction=reverse over x = [1, 0]: Y = {y}, Y_h = {y_h[0]:.4f}, ONNX: Y_h = Y[0] = {y[0]:.4f}")

y, y_h, _ = run(zeros(2, X=xs, W=w_c, sequence_lens=np.array([1])))
print(f"sequence_lens=[1] over 2 steps: Y_h = {y_h[0]:.4f}, ONNX: Y_h = Y[0] = {y[0]:.4f} (Y[1] = {y[1]:.4f}, "
      f"ONNX: 0)")

for k, gate in enumerate("iof"):  # P = [p_i, p_o, p_f]; zero pre-activations, c_0 = 1: the gate reads sigmoid(p)
    p = np.zeros((1, 3)); p[0, k] = 1.0
    _, _, y_c = run(zeros(initial_c=c0, P=p))
    print(f"P = {p.ravel()} (p_{gate} = 1), c_0 = 1: c_1 = {y_c[0]:.4f}; ONNX: "
          f"{ {'i': 0.5, 'o': 0.5, 'f': sigmoid(1.0)}[gate]:.4f}")

b_g = np.array([[0, 0, 0, 3.0, 0, 0, 0, 0]])
_, y_h, y_c = run(zeros(B=b_g, initial_c=2 * c0), clip=0.5)
print(f"clip=0.5, b_g = 3, c_0 = 2: h_1 = {y_h[0]:.4f}, c_1 = {y_c[0]:.4f}; ONNX: h_1 = 0.5 tanh(clip(c_1)) = "
      f"{0.5 * np.tanh(0.5):.4f}, c_1 = 1 + 0.5 tanh(0.5) = {1 + 0.5 * np.tanh(0.5):.4f}")

b_i = np.array([[2.0, 0, 0, 1, 0, 0, 0, 0]])  # i = sigmoid(2), g = tanh(1)
_, _, y_c = run(zeros(B=b_i, initial_c=c0), input_forget=1)
print(f"input_forget=1, b_i = 2, b_g = 1, c_0 = 1: c_1 = {y_c[0]:.4f}; ONNX (f = 1 - i): "
      f"{(1 - sigmoid(2.0)) + sigmoid(2.0) * np.tanh(1.0):.4f}")

for batch, steps in ((2, 1), (1, 2)):  # layout=1: X (B, T, I), Y (B, T, D, H), states (B, D, H)
    feeds = {**zeros(), "X": np.zeros((batch, steps, 1)), "initial_h": np.zeros((batch, 1, 1)),
             "initial_c": np.zeros((batch, 1, 1))}
    try:
        shapes = [y.shape for y in outputs(feeds, layout=1)]
        print(f"layout=1, B = {batch}, T = {steps}: Y, Y_h, Y_c shapes {shapes}; ONNX: "
              f"{[(batch, steps, 1, 1), (batch, 1, 1), (batch, 1, 1)]}")
    except cv2.error as exc:
        print(f"layout=1, B = {batch}, T = {steps}: raises {str(exc).split('error:')[-1].strip()}")

for name, call in (("activations=[HardSigmoid, Tanh, Tanh]", lambda: run(zeros(), activations=["HardSigmoid", "Tanh", "Tanh"])),
                   ("layout=1, two directions, B = 2", lambda: run(
                       {**zeros(), "X": np.zeros((2, 1, 1)), "W": np.zeros((2, 4, 1)), "R": np.zeros((2, 4, 1)),
                        "B": np.zeros((2, 8)), "initial_h": np.zeros((2, 2, 1)), "initial_c": np.zeros((2, 2, 1))},
                       layout=1, direction="bidirectional"))):
    try:
        call()
        print(f"{name}: ran")
    except cv2.error as exc:
        print(f"{name}: raises {' '.join(line for line in str(exc).splitlines() if 'Assertion' in line)}")
