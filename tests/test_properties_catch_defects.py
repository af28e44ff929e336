"""Every property fails on a deliberately broken implementation and passes on correct ones."""

import inspect
import pkgutil

import pytest

import properties
from lstm_verify.checks import LawViolation
from lstm_verify.implementation import Implementation, implementation
from lstm_verify.layouts import WRONG_ORDERS
from properties import (test_agreement, test_cec, test_gates, test_gradients, test_layout, test_long_range,
                        test_saturation, test_shapes)
from tests.defects import DEFECTS, StepAdapter, StepCell, TorchDefectAdapter, permuted

MODULES = (test_layout, test_agreement, test_gates, test_cec, test_shapes, test_saturation, test_gradients,
           test_long_range)
PROPERTIES = {name: fn for m in MODULES for name, fn in inspect.getmembers(m, inspect.isfunction)
              if name.startswith("test_")}
SLOW = {"test_delayed_xor_solvable"}


def required(prop) -> list[str]:
    return [c for mark in getattr(prop, "pytestmark", []) if mark.name == "requires" for c in mark.args]


def applicable(prop, impl: Implementation) -> bool:
    return all(getattr(impl.capabilities, c) for c in required(prop))


def test_every_property_module_is_listed():
    found = {m.name for m in pkgutil.iter_modules(properties.__path__) if m.name.startswith("test_")}
    assert found == {m.__name__.rpartition(".")[2] for m in MODULES}


def test_every_property_has_a_defect_that_breaks_it():
    caught = {p for _, props in DEFECTS.values() for p in props}
    assert caught == set(PROPERTIES), set(PROPERTIES) - caught


@pytest.mark.parametrize("defect,prop", [(d, p) for d, (_, ps) in DEFECTS.items() for p in ps],
                         ids=lambda v: v)
def test_property_catches_defect(defect, prop):
    impl = DEFECTS[defect][0]
    assert applicable(PROPERTIES[prop], impl), f"{defect} cannot be run through {prop}"
    with pytest.raises(LawViolation):
        PROPERTIES[prop](impl=impl)


@pytest.mark.parametrize("order", WRONG_ORDERS)
def test_gate_order_catches_every_wrong_permutation(order):
    with pytest.raises(LawViolation, match="gate"):
        test_gates.test_gate_order(impl=Implementation(StepAdapter(permuted(order)), "float64"))


CORRECT = {
    "numpy-float64": implementation("numpy", "float64"),
    "step-cell-float32": Implementation(StepAdapter(StepCell), "float32"),
    "hand-written-torch-float64": Implementation(TorchDefectAdapter(""), "float64"),
}


@pytest.mark.parametrize("prop", sorted(set(PROPERTIES) - SLOW))
@pytest.mark.parametrize("name", sorted(CORRECT))
def test_property_passes_correct_implementation(name, prop):
    impl = CORRECT[name]
    if not applicable(PROPERTIES[prop], impl):
        pytest.skip(f"{name} lacks {required(PROPERTIES[prop])}")
    PROPERTIES[prop](impl=impl)
