"""A TARGET's variant: declared with ``capabilities(variant=)`` or given by ``--variant``, its
peepholes passed as ``weight_peephole``, and every law held to that cell (tests/catalogue has the
peephole steps, correct and defective, that the laws pass and catch)."""

from functools import partial

import numpy as np
import pytest

import properties
from lstm_verify import Variant, capabilities
from lstm_verify.checks import LawViolation
from lstm_verify.cli import main
from lstm_verify.implementation import Implementation
from lstm_verify.layouts import KNOWN
from lstm_verify.params import Case
from lstm_verify.reference import Activation
from lstm_verify.variants import parse_variant, spell_variant
from lstm_verify.targets import TargetError, adapter_for, layout_table
from tests.catalogue import HERE
from tests.catalogue.numpy_steps import peephole_step, step

PROPERTIES = properties.collect()


@pytest.mark.parametrize("spelled,variant", [
    ("", Variant()),
    ("peepholes,clip=3:cell", Variant(peepholes=True, clip=3.0, clip_reading="cell")),
    ("clip=0.5", Variant(clip=0.5)),
    ("input-forget, f=HardSigmoid:0.3, h=ScaledTanh:1:0.5",
     Variant(Activation("HardSigmoid", 0.3), h=Activation("ScaledTanh", 1.0, 0.5), input_forget=True)),
])
def test_the_variant_spelling_reads_and_writes_back(spelled, variant):
    assert parse_variant(spelled) == variant
    assert parse_variant(spell_variant(variant)) == variant


@pytest.mark.parametrize("spelled,message", [
    ("peephole", "unknown variant 'peephole'"),
    ("clip=big", "clip must be a number, got 'big'"),
    ("clip=-1", "clip must be positive"),
    ("clip=3:state", "clip_reading must be one of spec, gates, cell; got 'state'"),
    ("forget-bias=1", "the layout's: --layout tf1 adds 1, tf1-fb0 nothing"),
    ("h=ScaledTanh", "ScaledTanh has no default alpha and beta"),
])
def test_a_bad_variant_is_one_line_and_exit_2(spelled, message, capsys):
    assert main(["check", f"{HERE / 'numpy_steps.py'}:step", "--kind", "numpy-step", "--variant", spelled]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_a_variant_without_a_target_is_one_line_and_exit_2(capsys):
    assert main(["check", "--variant", "peepholes"]) == 2
    assert "--variant says what a TARGET computes" in capsys.readouterr().err


def test_clip_and_clip_reading_are_shorthand_for_the_variant():
    cell = Variant(clip=0.5, clip_reading="cell")
    shorthand = adapter_for(capabilities(clip=0.5, clip_reading="cell")(partial(step)), "numpy-step")
    assert shorthand.capabilities.variant == cell
    peepholes = adapter_for(capabilities(variant=Variant(peepholes=True), clip=0.5, clip_reading="cell")(
        partial(step)), "numpy-step")
    assert peepholes.capabilities.variant == Variant(peepholes=True, clip=0.5, clip_reading="cell")
    with pytest.raises(TargetError, match="clip is given twice"):
        adapter_for(capabilities(variant=cell, clip=1.0)(partial(step)), "numpy-step")


def test_the_given_variant_replaces_the_declared_one():
    given = adapter_for(peephole_step, "numpy-step", variant="peepholes,clip=2:gates")
    assert given.capabilities.variant == Variant(peepholes=True, clip=2.0, clip_reading="gates")
    assert adapter_for(peephole_step, "numpy-step").capabilities.variant == Variant(peepholes=True)


def test_the_variant_laws_apply_by_feature():
    impl = Implementation(adapter_for(peephole_step, "numpy-step"), "float64")
    applies = {law for law, fn in PROPERTIES.items() if fn.__module__ == "properties.test_variants"
               and properties.skip_reason(fn, impl, "ci") is None}
    assert applies == {"test_peepholes_agree_with_reference", "test_peephole_order"}


@pytest.mark.parametrize("layout,order", [("torch", "ifo"), ("onnx", "iof"), ("tf1", "ifo"), ("tf1-fb0", "ifo")])
def test_a_step_receives_its_peepholes_in_the_layouts_order(layout, order):
    """``weight_peephole`` (3H): p_i, p_f, p_o in the layout's gate order without g, as the table says."""
    received = []

    @capabilities(variant=Variant(peepholes=True))
    def spy(x, h, c, *weights):
        received.append(weights[-1])
        return h, c
    params = Case(1, 2, 3).arrays()[0]
    p = np.concatenate([np.full(3, 1.0), np.full(3, 2.0), np.full(3, 3.0)])  # p_i = 1, p_f = 2, p_o = 3
    native = KNOWN[layout].to_native(params.__class__(*list(params.__dict__.values())[:-1], p))
    adapter_for(spy, "numpy-step", layout).load(native, "float64").step(np.zeros((1, 2)), (np.zeros((1, 3)),) * 2)
    assert received[0][::3].tolist() == ["ifo".index(g) + 1.0 for g in order]
    assert f"| `{layout}` |" in layout_table() and f"| {' '.join(order)} |" in layout_table().split(f"`{layout}`")[1]


def test_the_command_line_checks_the_given_variant(tmp_path, monkeypatch):
    """``--variant`` reaches the laws: the cell-clip step passes as declared, and fails when the
    command line says its clip is the specification's."""
    monkeypatch.setenv("LSTM_VERIFY_CACHE_DIR", str(tmp_path))
    target = f"{HERE / 'numpy_steps.py'}:cell_clip_step"
    args = ["check", target, "--kind", "numpy-step", "--dtypes", "float64", "--profile", "dev", "--quiet",
            "-k", "test_step_agrees_with_reference"]
    assert main(args) == 0
    assert main([*args, "--variant", "clip=0.5:spec"]) == 1
