"""The README's adapter guide, run: each worked example is built from the README's own text and
checked through a few laws of the suite, so the guide cannot drift from the kit."""

import importlib.util
import inspect
import re
from pathlib import Path

import pytest

from lstm_verify.adapters.base import Adapter
from lstm_verify.config import options_from_env
from lstm_verify.runner import run_suite

README = Path(__file__).parents[1] / "README.md"
EXAMPLES = dict(re.findall(r"<!-- adapter-guide: (\S+) -->\n```python\n(.*?)```", README.read_text(), re.S))
LIBRARIES = {"fused_torch.py": "torch", "onnx_style_jax.py": "jax", "numpy_runtime.py": "numpy"}
LAWS = ("test_gate_order", "test_step_agrees_with_reference", "test_sequence_agrees_with_reference",
        "test_gradients_agree_with_bptt")
"""Cheap, and between them they touch the layout, the step, the sequence and the gradients."""


def test_the_guide_has_one_example_per_family():
    assert sorted(EXAMPLES) == sorted(LIBRARIES)


@pytest.mark.parametrize("filename", sorted(LIBRARIES))
def test_guide_example_passes_the_suite(filename, tmp_path):
    pytest.importorskip(LIBRARIES[filename])
    path = tmp_path / filename
    path.write_text(EXAMPLES[filename])
    spec = importlib.util.spec_from_file_location(f"adapter_guide_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    adapters = [cls for _, cls in inspect.getmembers(module, inspect.isclass)
                if issubclass(cls, Adapter) and cls.__module__ == module.__name__]
    assert len(adapters) == 1, adapters
    code, results, output = run_suite(options_from_env(dtypes="float32", profile="dev"),
                                      pytest_extra=("-k", " or ".join(LAWS)), adapters=[adapters[0]()])
    status = {r.property: r.status for r in results}
    assert set(status) == set(LAWS), output[-2000:]
    assert not [r for r in results if r.status == "failed"], [(r.property, r.reason) for r in results]
    must_pass = LAWS[:3] if filename == "numpy_runtime.py" else LAWS
    assert all(status[law] == "passed" for law in must_pass), status
