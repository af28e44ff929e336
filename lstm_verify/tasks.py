"""The long-range tasks of the paper-to-code walkthrough, run through any implementation.

* :func:`early_input_gradients` -- the gradient reaching the first input of a sequence,
  through the implementation and through the reference vanilla RNN.
* :func:`train_xor` -- delayed XOR: two cue bits at t=0 and t=1, noise after, the target
  is their XOR at the end. Training is generic: the kit keeps float64 master weights, a
  linear read-out and Adam, and asks the implementation for its forward and its BPTT
  gradients, so whatever trains here is the implementation's own backward pass.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import log_softmax, softmax

from lstm_verify import reference
from lstm_verify.params import Params

if TYPE_CHECKING:
    from lstm_verify.implementation import Implementation


def xor_data(n: int, lag: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` delayed-XOR sequences, time-major: xs (lag, n, 2) and targets y (n,) in {0, 1}."""
    rng = np.random.default_rng(seed)
    a, b = rng.random(n) < 0.5, rng.random(n) < 0.5
    xs = np.zeros((lag, n, 2))
    xs[0, :, 0] = 2.0 * a - 1.0
    xs[1, :, 0] = 2.0 * b - 1.0
    xs[2:, :, 1] = rng.normal(size=(lag - 2, n))
    return xs, (a ^ b).astype(np.int64)


def early_input_gradients(impl: Implementation, lag: int = 60, hidden: int = 16, batch: int = 8,
                          seed: int = 0) -> tuple[float, float]:
    """Mean |dL/dx_0| through ``impl`` and through the reference vanilla RNN.

    Both start as in the walkthrough's check 5: weights over [h, x] drawn from
    U(-1/sqrt(I+H), 1/sqrt(I+H)) (nn.Linear's default), the LSTM's forget bias set to +1,
    and L the sum of a linear read-out of h_T, for random inputs.
    """
    rng = np.random.default_rng(seed)
    k = 1.0 / np.sqrt(2 + hidden)
    lstm_params = Params(rng.uniform(-k, k, (4 * hidden, 2)), rng.uniform(-k, k, (4 * hidden, hidden)),
                         rng.uniform(-k, k, 4 * hidden), np.zeros(4 * hidden)).with_gate_biases(f=1.0)
    rnn_params = (rng.uniform(-k, k, (hidden, 2)), rng.uniform(-k, k, (hidden, hidden)), rng.uniform(-k, k, hidden))
    readout = rng.uniform(-1.0, 1.0, (2, hidden)) / np.sqrt(hidden)
    xs = rng.normal(size=(lag, batch, 2))
    zeros = np.zeros((batch, hidden))
    gh = np.zeros((lag, batch, hidden))
    gh[-1] = readout.sum(axis=0)
    lstm = impl.grads(lstm_params, xs, zeros, zeros, gh, zeros).x[0]
    rnn = reference.rnn_backward(*rnn_params, xs, zeros, gh)["x"][0]
    return float(np.abs(lstm).mean()), float(np.abs(rnn).mean())


@dataclass(frozen=True)
class XorResult:
    accuracy: float
    steps: int
    seconds: float


class _Adam:
    def __init__(self, lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> None:
        self.lr, self.b1, self.b2, self.eps, self.t = lr, b1, b2, eps, 0
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}

    def update(self, values: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        for k, g in grads.items():
            m = self.m[k] = self.b1 * self.m.get(k, 0.0) + (1 - self.b1) * g
            v = self.v[k] = self.b2 * self.v.get(k, 0.0) + (1 - self.b2) * g * g
            step = self.lr * np.sqrt(1 - self.b2 ** self.t) / (1 - self.b1 ** self.t)
            values[k] -= step * m / (np.sqrt(v) + self.eps)


def train_xor(impl: Implementation, lag: int = 60, hidden: int = 32, n_train: int = 256,
              n_test: int = 512, lr: float = 1e-2, max_steps: int = 600, target: float = 0.95,
              seed: int = 0) -> XorResult:
    """Train LSTM + read-out on delayed XOR with full-batch Adam; stop early once solved.

    Every 10 steps where training accuracy is at least ``target``, the held-out
    accuracy is measured; training stops when it reaches ``target`` too.
    """
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    xs, y = xor_data(n_train, lag, seed + 1)
    test_xs, test_y = xor_data(n_test, lag, seed + 2)
    k = 1.0 / np.sqrt(hidden)
    weights = dict(Params.uniform_init(2, hidden, rng).items())
    weights["w_out"] = rng.uniform(-k, k, (2, hidden))
    weights["b_out"] = rng.uniform(-k, k, 2)
    adam = _Adam(lr)
    zeros = np.zeros((n_train, hidden))

    def accuracy(inputs: np.ndarray, targets: np.ndarray) -> float:
        h = impl.run(Params(*(weights[n] for n in ("w_ih", "w_hh", "b_ih", "b_hh"))), inputs,
                     np.zeros((inputs.shape[1], hidden)), np.zeros((inputs.shape[1], hidden)))[1][0]
        return float(((h @ weights["w_out"].T + weights["b_out"]).argmax(-1) == targets).mean())

    test_accuracy = 0.0
    for step in range(1, max_steps + 1):
        params = Params(*(weights[n] for n in ("w_ih", "w_hh", "b_ih", "b_hh")))
        h_last = np.asarray(impl.run(params, xs, zeros, zeros)[1][0], np.float64)
        logits = h_last @ weights["w_out"].T + weights["b_out"]
        dlogits = (softmax(logits, axis=-1) - np.eye(2)[y]) / n_train
        gh = np.zeros((lag, n_train, hidden))
        gh[-1] = dlogits @ weights["w_out"]
        g = impl.grads(params, xs, zeros, zeros, gh, zeros)
        grads = {n: getattr(g, n) for n in ("w_ih", "w_hh", "b_ih", "b_hh")}
        grads["w_out"], grads["b_out"] = dlogits.T @ h_last, dlogits.sum(axis=0)
        adam.update(weights, grads)
        train_accuracy = float((logits.argmax(-1) == y).mean())
        if step % 10 == 0 and train_accuracy >= target:
            test_accuracy = accuracy(test_xs, test_y)
            if test_accuracy >= target:
                break
    else:
        test_accuracy = accuracy(test_xs, test_y)
    return XorResult(test_accuracy, step, time.perf_counter() - start)


def xor_loss(logits: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy of ``logits`` (n, 2) against ``y``."""
    return float(-log_softmax(logits, axis=-1)[np.arange(len(y)), y].mean())
