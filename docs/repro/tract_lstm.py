"""tract (the ``tract`` Python package 0.23.9) against the ONNX LSTM operator: each finding of
docs/onnx.md, one LSTM node with zero weights but the one that matters, hidden_size 1, one batch row.
Run: python docs/repro/tract_lstm.py (needs onnx, numpy, tract)."""

import tempfile
from pathlib import Path

import numpy as np
import tract
from onnx import TensorProto, helper

INPUTS = ("X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P")


def run(feeds, dtype=np.float32, **attributes):
    """The node's Y, Y_h, Y_c on tract for ``feeds`` (by input name), opset 14, typed with their shapes."""
    names = [n if n in feeds else "" for n in INPUTS[:max(INPUTS.index(n) for n in feeds) + 1]]
    element = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    rank = {"B": 2, "P": 2, "sequence_lens": 1, "Y": 4}
    info = [helper.make_tensor_value_info(n, TensorProto.INT32 if n == "sequence_lens" else element,
                                          [f"{n}{k}" for k in range(rank.get(n, 3))]) for n in (*names, "Y", "Y_h", "Y_c") if n]
    node = helper.make_node("LSTM", names, ["Y", "Y_h", "Y_c"], hidden_size=1, **attributes)
    graph = helper.make_graph([node], "lstm", info[:-3], info[-3:])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], ir_version=8)
    feeds = {n: v.astype(np.int32 if n == "sequence_lens" else dtype) for n, v in feeds.items()}
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "lstm.onnx").write_bytes(model.SerializeToString())
        inference = tract.onnx().load(str(Path(folder) / "lstm.onnx"))
    order = [inference.input_name(k) for k in range(inference.input_count())]
    for k, name in enumerate(order):
        kind = {np.float32: "f32", np.float64: "f64", np.int32: "i32"}[feeds[name].dtype.type]
        inference.set_input_fact(k, ",".join([*map(str, feeds[name].shape), kind]))
    return [y.to_numpy().ravel() for y in inference.into_model().into_runnable().run([feeds[n] for n in order])]


def zeros(steps=1, **inputs):
    """Zero X, W, R, B (gate blocks i, o, f, c) and states, updated with ``inputs``."""
    feeds = {"X": np.zeros((steps, 1, 1)), "W": np.zeros((1, 4, 1)), "R": np.zeros((1, 4, 1)),
             "B": np.zeros((1, 8)), "initial_h": np.zeros((1, 1, 1)), "initial_c": np.zeros((1, 1, 1))}
    return {**feeds, **inputs}


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def raises(name, call):
    try:
        call()
        print(f"{name}: ran")
    except tract.TractError as exc:
        print(f"{name}: raises {' | '.join(line.strip() for line in str(exc).split('Stack backtrace')[0].splitlines() if line.strip())}")


c0 = np.ones((1, 1, 1))
xs = np.array([1.0, 0.0]).reshape(2, 1, 1)
w_c = np.array([0, 0, 0, 1.0]).reshape(1, 4, 1)  # g = tanh(x): only the step with x = 1 writes c
y, y_h, _ = run(zeros(2, X=xs, W=w_c), direction="reverse")
print(f"direction=reverse over x = [1, 0]: Y = {y}, Y_h = {y_h[0]:.4f}; ONNX: Y = [{0.5 * np.tanh(0.5 * np.tanh(1)):.4f}, 0], "
      f"Y_h = Y[0] (a forward run's Y = {run(zeros(2, X=xs, W=w_c))[0]})")

b_f = np.array([[0, 0, 1e4, 0, 0, 0, 0, 0]])  # f = sigmoid(1e4) = 1 in float32, i = 1/2, g = 0: c is carried
_, _, y_c = run(zeros(25, B=b_f, initial_c=c0))
print(f"b_f = 1e4, g = 0, c_0 = 1, 25 steps: c_25 = {y_c[0]:.9f}; ONNX: 1 exactly (float32 sigmoid(1e4) = 1)")

b_g = np.array([[0, 0, 0, 3.0, 0, 0, 0, 0]])
_, y_h, y_c = run(zeros(B=b_g, initial_c=2 * c0), clip=0.5)
print(f"clip=0.5, b_g = 3, c_0 = 2: h_1 = {y_h[0]:.4f}, c_1 = {y_c[0]:.4f}; ONNX: h_1 = 0.5 tanh(clip(c_1)) = "
      f"{0.5 * np.tanh(0.5):.4f}, c_1 = 1 + 0.5 tanh(0.5) = {1 + 0.5 * np.tanh(0.5):.4f}")

b_i = np.array([[2.0, 0, 0, 1, 0, 0, 0, 0]])  # i = sigmoid(2), g = tanh(1)
_, _, y_c = run(zeros(B=b_i, initial_c=c0), input_forget=1)
print(f"input_forget=1, b_i = 2, b_g = 1, c_0 = 1: c_1 = {y_c[0]:.4f}; ONNX (f = 1 - i): "
      f"{(1 - sigmoid(2.0)) + sigmoid(2.0) * np.tanh(1.0):.4f}")

_, _, y_c = run(zeros(B=b_g, initial_c=c0), activations=["Sigmoid", "Relu", "Tanh"])
print(f"activations=[Sigmoid, Relu, Tanh], b_g = 3, c_0 = 1: c_1 = {y_c[0]:.4f}; ONNX (g = Relu): {0.5 + 0.5 * 3:.4f}")

raises("sequence_lens=[1] over 2 steps", lambda: run(zeros(2, sequence_lens=np.array([1]))))
raises("float64", lambda: run(zeros(), np.float64))
