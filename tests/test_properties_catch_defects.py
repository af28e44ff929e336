"""Every property fails on a deliberately broken implementation and passes on correct ones."""

import re
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

import properties
from lstm_verify.adapters.numpy_lstm import NumpyAdapter, NumpyModel
from lstm_verify.checks import LawViolation
from lstm_verify.guard import ImplementationError
from lstm_verify.implementation import Implementation, implementation
from lstm_verify.layouts import WRONG_ORDERS
from tests.catalogue import CATALOGUE, CORRECT, DEFECTIVE, Entry

PROPERTIES = properties.collect()
EXPENSIVE = {"test_delayed_xor_solvable", "test_early_input_gradient_dominance"}
"""Run on every built-in adapter by the main job; here only on the defects that break them."""
LONG_LAG = {"test_adding_problem_solvable", "test_embedded_reber_solvable"}
"""Thorough profile only; tests/test_long_lag.py passes and breaks them."""


class ProcessingOrderModel(NumpyModel):
    """Gives a reverse run's outputs back in processing order, not input time order."""

    def sequence(self, xs, state=None, *, lengths=None, reverse=False):
        hs, final = super().sequence(xs, state, lengths=lengths, reverse=reverse)
        return (hs[::-1] if reverse else hs), final


class ProcessingOrderAdapter(NumpyAdapter):
    name = "reverse-in-processing-order"

    def load(self, native, dtype):
        return ProcessingOrderModel(native, dtype)


def windowed_bptt(fns, window: int = 300) -> Callable:
    """A kit-level bug in the BPTT all JAX adapters share (``JaxFunctions.bptt``, the step's vjp
    chained back through time): run window by window from the end, each window starting from zero
    cotangents instead of those carried from the window after it (a windowed rewrite that forgets
    to carry them). Sequences of up to ``window`` steps are exact."""
    whole = fns.bptt

    def bptt(params, xs, h0, c0, gh, gc):
        starts, state, firsts = range(0, len(xs), window), (h0, c0), []
        for start in starts:
            firsts.append(state)
            for x in xs[start:start + window]:
                state = fns.step(params, x, *state)
        grads, dxs = {}, []
        for start, (h, c) in reversed(list(zip(starts, firsts))):
            end = gc if start + window >= len(xs) else np.zeros_like(gc)
            dp, dx, dh0, dc0 = whole(params, xs[start:start + window], h, c, gh[start:start + window], end)
            grads = {k: grads.get(k, 0) + v for k, v in dp.items()}
            dxs.insert(0, dx)
        return grads, np.concatenate(dxs), dh0, dc0
    return bptt


def applicable(prop, impl: Implementation) -> bool:
    return properties.skip_reason(prop, impl, "thorough") is None


def test_every_property_is_broken_by_some_defect():
    onnx_laws = {p for p, fn in PROPERTIES.items() if fn.__module__ == "properties.test_variants"}  # tests/test_onnx.py
    broken = {p for e in DEFECTIVE for p in e.breaks} | LONG_LAG | onnx_laws | {
        "test_reverse_equals_forward_on_reversed_input"}
    assert broken == set(PROPERTIES), set(PROPERTIES) - broken


def test_self_test_page_counts_the_catalogue():
    """docs/self-test.md says how many correct and defective entries the catalogue holds: true."""
    page = (Path(__file__).parents[1] / "docs" / "self-test.md").read_text()
    said = [int(n) for n in re.findall(r"(\d+) (?:correct|defective) ones", page)]
    assert said == [len(CORRECT), len(DEFECTIVE)], said


def test_catalogue_has_at_least_15_defects_across_kinds():
    assert len(DEFECTIVE) >= 15 and len({e.kind for e in DEFECTIVE}) == 5


@pytest.mark.parametrize("entry,prop", [(e, p) for e in DEFECTIVE for p in e.breaks],
                         ids=lambda v: v.id if isinstance(v, Entry) else v)
def test_property_catches_defect(entry, prop, unshrunk):
    if entry.library:
        pytest.importorskip(entry.library)
    impl = entry.implementation(time_limit=2.0)
    assert not impl.skip_reason(), impl.skip_reason()
    assert applicable(PROPERTIES[prop], impl), f"{entry.name} cannot be run through {prop}"
    with pytest.raises((LawViolation, ImplementationError)) as info:
        PROPERTIES[prop](impl=impl)
    assert entry.name in str(info.value)


def test_reverse_law_catches_outputs_in_processing_order(unshrunk):
    with pytest.raises(LawViolation, match=r"hs \(reverse, input time order\).*reverse-in-processing-order"):
        PROPERTIES["test_reverse_equals_forward_on_reversed_input"](
            impl=Implementation(ProcessingOrderAdapter(), "float64"))


def test_long_gradient_law_catches_windowed_jax_bptt(monkeypatch, unshrunk):
    """The JAX twin of torch_lstms.DetachedChunksLSTM: a jax-step target cannot drop gradients
    past some step itself (its step has no step index; the kit chains its vjp), but the kit's own
    BPTT can, for every JAX adapter."""
    pytest.importorskip("jax")
    impl = Entry("jax_steps.py:step", "jax-step", dtype="float32").implementation()
    monkeypatch.setattr(impl.adapter.fns, "bptt", windowed_bptt(impl.adapter.fns))
    with pytest.raises(LawViolation, match=r"dL/d.*\[step-float32; Case"):
        PROPERTIES["test_long_sequence_gradients_agree_with_bptt"](impl=impl)


@pytest.mark.parametrize("order", WRONG_ORDERS)
def test_gate_order_catches_every_wrong_permutation(order, unshrunk):
    """A correct torch-order step declared with any other order is a gate-order bug."""
    impl = CATALOGUE[0].implementation(layout=order)
    with pytest.raises(LawViolation, match="gate [ifgo]"):
        PROPERTIES["test_gate_order"](impl=impl)


@pytest.mark.parametrize("prop", sorted(set(PROPERTIES) - EXPENSIVE - LONG_LAG))
@pytest.mark.parametrize("entry", CORRECT + [None], ids=lambda e: e.id if e else "builtin-numpy-float64")
def test_property_passes_correct_implementation(entry, prop):
    if entry and entry.library:
        pytest.importorskip(entry.library)
    impl = entry.implementation() if entry else implementation("numpy", "float64")
    if impl.skip_reason() or not applicable(PROPERTIES[prop], impl):
        pytest.skip(impl.skip_reason() or f"lacks {properties.requirements(PROPERTIES[prop])}")
    PROPERTIES[prop](impl=impl)
