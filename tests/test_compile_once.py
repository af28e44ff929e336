"""Compiled once per shape (issue 31): an implementation that traces or compiles its programs is
asked, at one shape, everything the laws ask of it (a step batched, unbatched and from its default
state, its sequence forward, reversed and with lengths, its gradients, a bidirectional layer), for
one example and then for another of the same shape; the second example traces nothing new. A
program built per example (the weights closed over as constants) or per call would be traced and
compiled again for every example of every law: most of a JAX column's time."""

from __future__ import annotations

import contextlib
from functools import partial
from typing import Iterator

import numpy as np
import pytest

from lstm_verify.adapters import builtin_adapter
from lstm_verify.implementation import Implementation
from lstm_verify.params import Case
from tests.catalogue import Entry

JAX_ADAPTERS = ("jax", "flax-lstm", "flax-optimized", "flax-nnx", "equinox", "haiku")
SHAPE = {"batch": 2, "input_size": 3, "hidden_size": 4, "steps": 3}


def ask_everything(impl: Implementation, seed: int) -> None:
    """What the laws ask of ``impl`` for one example of :data:`SHAPE` drawn from ``seed``."""
    caps = impl.capabilities
    params, xs, h0, c0 = Case(**SHAPE, seed=seed).arrays()
    model = impl.load(params, split_seed=seed)
    x, h, c = impl.cast(xs[0], h0, c0)
    model.step(x, (h, c))
    if caps.unbatched:
        model.step(x[0], (h[0], c[0]))
    if caps.optional_state:
        model.step(x)
    if caps.sequence:
        model.sequence(*impl.cast(xs), (h, c))
        if caps.reverse:
            model.sequence(*impl.cast(xs), (h, c), reverse=True)
        if caps.lengths:
            model.sequence(*impl.cast(xs), (h, c), lengths=np.array([SHAPE["steps"], 1]))
    if caps.gradients:
        rng = np.random.default_rng(seed)
        impl.grads(params, xs, h0, c0, rng.normal(size=xs.shape[:2] + h0.shape[-1:]), rng.normal(size=c0.shape))
    if caps.bidirectional:
        layers, xs, h0, c0 = Case(**SHAPE, seed=seed).stack(directions=2)
        impl.load_stack(layers, split_seed=seed).sequence(*impl.cast(xs), tuple(impl.cast(h0, c0)))


@contextlib.contextmanager
def jax_traces() -> Iterator[list[str]]:
    """The functions JAX traces inside the block (a jit-cache miss: tracing, lowering and, unless
    the persistent cache has it, compiling), one entry each."""
    import jax.monitoring
    traced: list[str] = []

    def heard(event: str, seconds: float, fun_name: str = "", **_: object) -> None:
        if event == "/jax/core/compile/jaxpr_trace_duration":
            traced.append(fun_name)
    jax.monitoring.register_event_duration_secs_listener(heard)
    try:
        yield traced
    finally:
        jax.monitoring.unregister_event_duration_listener(heard)


def second_example_traces(impl: Implementation) -> list[str]:
    """The JAX functions traced for a second example of :data:`SHAPE`, after a first."""
    ask_everything(impl, seed=1)
    with jax_traces() as traced:
        ask_everything(impl, seed=2)
    return traced


@pytest.mark.parametrize("name", JAX_ADAPTERS)
def test_a_jax_adapter_compiles_nothing_for_a_second_example_of_a_shape(name):
    adapter = builtin_adapter(name)
    if adapter.unavailable():
        pytest.skip(adapter.unavailable())
    assert second_example_traces(Implementation(adapter, "float32")) == []


def test_a_jax_step_target_compiles_nothing_for_a_second_example_of_a_shape():
    pytest.importorskip("jax")
    impl = Entry("jax_steps.py:declared_step", "jax-step", dtype="float32").implementation()
    assert second_example_traces(impl) == []


def test_the_count_sees_a_model_that_compiles_per_example():
    """The defect the tests above guard against: a step jitted with the weights closed over, as
    constants, is traced again for every example."""
    jax = pytest.importorskip("jax")
    from lstm_verify.adapters.jax_lstm import _FUNCTIONS, JaxAdapter
    from lstm_verify.adapters.jax_step import JaxModel

    class ConstantWeights(JaxModel):
        def step(self, x: np.ndarray, state: tuple | None = None) -> tuple:
            h, c = jax.jit(partial(self.fns.cell, self.params))(x, *state)
            return np.asarray(h), np.asarray(c)

    class ConstantWeightsAdapter(JaxAdapter):
        def load(self, native: dict, dtype: str) -> JaxModel:
            return ConstantWeights(_FUNCTIONS, native, dtype, {k: k for k in native}, has_sequence=True)

    assert "cell" in second_example_traces(Implementation(ConstantWeightsAdapter(), "float32"))


def test_a_tf_step_target_traces_nothing_for_a_second_example_of_a_shape():
    pytest.importorskip("tensorflow")
    impl = Entry("tf_steps.py:step", "tf-step", dtype="float32").implementation()
    traces = lambda: (impl.adapter.fns.step.experimental_get_tracing_count()  # noqa: E731
                      + impl.adapter.fns.pullback.experimental_get_tracing_count())
    ask_everything(impl, seed=1)
    before = traces()
    ask_everything(impl, seed=2)
    assert traces() == before > 0
