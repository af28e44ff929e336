"""TARGETs as a new user writes them: named layouts for every kind, declared capabilities, the
report header's versions, the library's own initial state, and the cache folder."""

import importlib.metadata
import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

import properties
from lstm_verify import capabilities
from lstm_verify.adapters.base import Adapter
from lstm_verify.checks import LawViolation
from lstm_verify.cli import main
from lstm_verify.implementation import Implementation, implementation
from lstm_verify.layouts import KNOWN
from lstm_verify.params import Case
from lstm_verify.targets import (TargetError, adapter_for, adapters_for, layout_table, load_object, native_shapes,
                                 parse_layout)
from tests.catalogue import HERE, Entry
from tests.catalogue.numpy_steps import step as numpy_step

PROPERTIES = properties.collect()
ADAPTERS_PAGE = Path(__file__).parents[1] / "docs" / "adapters.md"


@pytest.mark.parametrize("kind", ("torch-cell", "torch-lstm", "numpy-step", "jax-step", "tf-step"))
@pytest.mark.parametrize("name", sorted(KNOWN))
def test_every_named_layout_is_accepted_for_every_kind(name, kind):
    if kind.startswith("torch"):
        torch = pytest.importorskip("torch")
        target = torch.nn.LSTMCell if kind == "torch-cell" else torch.nn.LSTM
    else:
        pytest.importorskip({"numpy-step": "numpy", "jax-step": "jax", "tf-step": "tensorflow"}[kind])
        target = numpy_step
    assert adapter_for(target, kind, name.upper()).layout is KNOWN[name]


def test_a_torch_cell_in_keras_layout():
    """torch-cell with --layout keras: the class holds ``weight_ih`` (I, 4H), ``weight_hh`` (H, 4H), ``bias``."""
    torch = pytest.importorskip("torch")

    class KerasLayoutCell(torch.nn.Module):
        def __init__(self, input_size, hidden_size):
            super().__init__()
            self.weight_ih = torch.nn.Parameter(torch.zeros(input_size, 4 * hidden_size))
            self.weight_hh = torch.nn.Parameter(torch.zeros(hidden_size, 4 * hidden_size))
            self.bias = torch.nn.Parameter(torch.zeros(4 * hidden_size))

        def forward(self, x, state):
            h, c = state
            i, f, g, o = (x @ self.weight_ih + h @ self.weight_hh + self.bias).chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            return torch.sigmoid(o) * torch.tanh(c), c
    impl = Implementation(adapter_for(KerasLayoutCell, "torch-cell", "keras"), "float64")
    for law in ("test_gate_order", "test_step_agrees_with_reference", "test_gradients_agree_with_bptt"):
        PROPERTIES[law](impl=impl)


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_a_step_receives_the_parameters_the_table_lists(name):
    """numpy-step: after (x, h, c), the layout's arrays in table order, with the table's shapes."""
    received = []

    def recording_step(x, h, c, *weights):
        received.extend(w.shape for w in weights)
        return h, c
    layout = KNOWN[name]
    case = Case(2, 5, 7, seed=1)  # I = 5, H = 7, as native_shapes spells them
    params, xs, h0, c0 = case.arrays()
    adapter_for(recording_step, "numpy-step", name).load(layout.to_native(params), "float64").step(xs[0], (h0, c0))
    sizes = {"I": 5, "H": 7, "4H": 28, "I+H": 12, "H+I": 12}
    want = [tuple(sizes[s] for s in shape.strip("()").split(", ")) for shape in native_shapes(layout).values()]
    assert received == want


def test_named_layouts_need_no_conversion_code_for_haiku():
    """``hk.LSTM`` called plainly passes the gate-order probe and agrees with --layout haiku."""
    pytest.importorskip("haiku")
    impl = Entry("haiku_steps.py:step", "jax-step", dtype="float32", layout="haiku").implementation()
    assert impl.adapter.layout is KNOWN["haiku"]
    for law in ("test_gate_order", "test_step_agrees_with_reference"):
        PROPERTIES[law](impl=impl)


def test_a_forgotten_forget_offset_fails_naming_the_forget_gate():
    pytest.importorskip("haiku")
    impl = Entry("haiku_steps.py:forgotten_forget_offset", "jax-step", dtype="float32",
                 layout="haiku").implementation()
    with pytest.raises(LawViolation, match=r"gate f\[0\]=0\.5, but should be 0\.731"):
        PROPERTIES["test_gate_order"](impl=impl)


def test_a_bad_layout_is_one_line():
    with pytest.raises(TargetError, match=r"--layout must be an order .* or a named layout \(torch, onnx"):
        parse_layout("haiku2")


def test_layouts_command_prints_the_table(capsys):
    assert main(["layouts"]) == 0
    assert capsys.readouterr().out.strip() == layout_table()


def test_the_adapters_page_shows_the_current_layout_table():
    assert layout_table() in ADAPTERS_PAGE.read_text()


def _declared(fn):
    return adapter_for(fn, "numpy-step").capabilities


def test_capabilities_decorator_and_attribute_declare_the_same():
    def by_hand(x, h, c, *weights):
        return numpy_step(x, h, c, *weights)
    by_hand.lstm_verify_capabilities = {"optional_state": True, "unbatched": True}
    decorated = capabilities(optional_state=True, unbatched=True)(partial(numpy_step))
    assert _declared(by_hand) == _declared(decorated)
    assert _declared(by_hand).optional_state and _declared(by_hand).unbatched and not _declared(by_hand).sequence
    assert not _declared(numpy_step).optional_state


@pytest.mark.parametrize("declared,message", [
    ({"optional_sate": True}, "unknown capabilities optional_sate"),
    ({"reverse": True}, "declare sequence= too"),
    ({"sequence": "run"}, "must be a function"),
    ({"dtypes": ("float32", "float8")}, "must be some of float64, float32, float16, bfloat16; got float8"),
    ({"dtypes": ()}, "got none"),
])
def test_wrong_declarations_are_one_line(declared, message):
    def step(x, h, c, *weights):
        return h, c
    step.lstm_verify_capabilities = declared
    with pytest.raises(TargetError, match=message):
        adapter_for(step, "numpy-step")


def test_declared_dtypes_replace_the_kinds_default():
    assert _declared(numpy_step).dtypes == ("float32", "float64")
    assert _declared(capabilities(dtypes=("bfloat16",))(partial(numpy_step))).dtypes == ("bfloat16",)
    assert adapter_for(capabilities(dtypes="float16")(partial(numpy_step)), "jax-step").capabilities.dtypes == ("float16",)
    undeclared = adapter_for(numpy_step, "numpy-step", name="plain").unsupported("bfloat16")
    assert undeclared == "plain is declared for float32, float64 only"


def test_declared_sequence_receives_only_the_keywords_it_declares():
    calls = []

    def run(xs, h, c, *weights, **keywords):
        calls.append(sorted(keywords))
        return xs[..., :h.shape[-1]], (h, c)
    fn = capabilities(sequence=run, reverse=True)(partial(numpy_step))
    case = Case(2, 8, 2, steps=3, seed=0)
    params, xs, h0, c0 = case.arrays()
    model = adapter_for(fn, "numpy-step").load(KNOWN["torch"].to_native(params), "float64")
    model.sequence(xs, (h0, c0))
    model.sequence(xs, (h0, c0), reverse=True)
    assert calls == [[], ["reverse"]]


def test_header_shows_distribution_versions():
    pytest.importorskip("haiku")
    from lstm_verify.adapters.haiku_lstm import HaikuAdapter
    version = HaikuAdapter().version()
    assert f"dm-haiku {importlib.metadata.version('dm-haiku')}" in version and "jax " in version

    class Unpackaged(Adapter):
        name, requires, distributions = "unpackaged", ("os",), ("no-such-distribution",)

        def load(self, native, dtype):
            raise NotImplementedError
    assert Unpackaged().version() == "no-such-distribution (no distribution metadata)"
    assert Unpackaged().unavailable() is None


def test_default_state_law_reads_the_library_initial_state():
    """flax with ``carry_init=ones`` starts from ones: the law must see the library's state, not the kit's zeros."""
    pytest.importorskip("flax")
    from flax import linen
    from flax.linen import initializers

    from lstm_verify.adapters.flax_lstm import FlaxAdapter, FlaxFunctions, Linen
    ones = FlaxAdapter("flax-carry-ones", FlaxFunctions(Linen(partial(linen.LSTMCell, carry_init=initializers.ones))))
    with pytest.raises(LawViolation, match=r"h \(no state\).*flax-carry-ones"):
        PROPERTIES["test_default_state_is_zeros"](impl=Implementation(ones, "float32"))
    PROPERTIES["test_default_state_is_zeros"](impl=implementation("flax-lstm", "float32"))


def test_jax_adapters_without_a_library_state_claim_none():
    pytest.importorskip("equinox")
    assert not implementation("jax").capabilities.optional_state
    assert not implementation("equinox").capabilities.optional_state


def test_a_run_writes_only_to_the_project_and_its_cache(tmp_path):
    """A new user's run: nothing in the temp folder or the home directory, only ``.lstm_verify/``
    (JAX's compilations, hypothesis's database) appears in the project."""
    pytest.importorskip("jax")
    project, temp, home = (tmp_path / d for d in ("project", "temp", "home"))
    for d in (project, temp, home):
        d.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LSTM_VERIFY_", "JAX_COMPILATION", "PYTEST_"))}
    env.update(TMPDIR=str(temp), HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    run = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", "properties", "-q", "-p", "no:cacheprovider",
                          "-k", "test_gate_order", "--lstm-impl", f"{HERE}/jax_steps.py:step",
                          "--lstm-kind", "jax-step", "--lstm-dtypes", "float32", "--lstm-profile", "dev"],
                         cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert [p.name for p in project.iterdir()] == [".lstm_verify"]
    assert not list(temp.iterdir()) and not list(home.iterdir())
    cache = project / ".lstm_verify"
    assert any((cache / "jax").iterdir()) and (cache / "hypothesis").is_dir()
    assert oct(cache.stat().st_mode & 0o777) == oct(0o700)


def test_the_cache_folder_can_be_moved(tmp_path):
    """The same program compiled with the cache folder at two paths gets the same entry: a folder
    restored elsewhere (another runner, a CI cache step) is used, not compiled again."""
    pytest.importorskip("jax")
    program = ("import sys; from lstm_verify.cache import use_cache_dir; use_cache_dir(sys.argv[1]); "
               "import jax, jax.numpy as jnp; jax.jit(lambda a: jnp.tanh(a) * 3)(jnp.ones(5))")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LSTM_VERIFY_", "JAX_"))}
    names = []
    for folder in (tmp_path / "here", tmp_path / "elsewhere" / "deeper"):
        subprocess.run([sys.executable, "-c", program, str(folder)], env=env, check=True, timeout=120)
        names.append(sorted(p.name for p in (folder / "jax").iterdir()))
    assert names[0] and names[0] == names[1]


def test_an_adapter_class_of_ones_own_is_a_target_of_kind_adapter():
    """A library the kit does not ship is one file of the user's: an Adapter subclass, checked as
    ``--kind adapter`` like any TARGET (here the built-in NumPy adapter, named by its class)."""
    run = subprocess.run([sys.executable, "-m", "lstm_verify.cli", "check", "lstm_verify.adapters.numpy_lstm:NumpyAdapter",
                          "--kind", "adapter", "--dtypes", "float64", "-k", "gate_order", "--quiet"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "test_gate_order" in run.stdout and "1 passed" in run.stdout
    with pytest.raises(TargetError, match="takes an lstm_verify.adapters.Adapter subclass"):
        adapters_for(object, "adapter")


def test_two_target_files_of_one_name_load_as_two_modules(tmp_path):
    """A TARGET file's module is keyed by its path: ``a/model.py`` and ``b/model.py`` are two targets."""
    for folder, value in (("a", 1), ("b", 2)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "model.py").write_text(f"VALUE = {value}\n")
    assert [load_object(f"{tmp_path / f}/model.py:VALUE") for f in ("a", "b")] == [1, 2]
