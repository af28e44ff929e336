"""TensorFlow as a target: ``--kind tf-step`` traced once per shape, and the ``tf-block`` adapter's
ops held to what TensorFlow's source says they compute."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from lstm_verify.implementation import Implementation  # noqa: E402
from lstm_verify.params import Case  # noqa: E402
from tests.catalogue import Entry  # noqa: E402


def _gradients(impl, case: Case) -> None:
    params, xs, h0, c0 = case.arrays()
    rng = np.random.default_rng(case.seed)
    impl.grads(params, xs, h0, c0, rng.normal(size=xs.shape[:2] + h0.shape[-1:]), rng.normal(size=c0.shape))


def test_tf_step_traces_once_per_shape_and_dtype_whatever_the_sequence_length():
    """The step and its pullback are traced once per (B, I, H, dtype): the gradient laws draw 1 to
    1000 steps, and a trace per length would cost a trace per draw."""
    adapter = Entry("tf_steps.py:step", "tf-step").implementation().adapter
    traces = lambda: (adapter.fns.step.experimental_get_tracing_count(),  # noqa: E731
                      adapter.fns.pullback.experimental_get_tracing_count())
    for dtype, steps in (("float32", 4), ("float32", 1), ("float32", 9), ("float64", 3), ("float64", 7)):
        _gradients(Implementation(adapter, dtype), Case(batch=2, input_size=3, hidden_size=4, steps=steps))
    assert traces() == (2, 2)
    _gradients(Implementation(adapter, "float32"), Case(batch=2, input_size=3, hidden_size=5, steps=6))
    assert traces() == (3, 3)
