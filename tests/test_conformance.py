"""The conformance table (``lstm-verify matrix``): its one feature -> law mapping names the kit's
laws, its cells follow the worst result of their laws, and docs/conformance.md holds the table the
committed run (docs/conformance.json, real result records) renders; each standalone reproduction
in docs/repro runs."""

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import properties
from lstm_verify import conformance
from lstm_verify.cli import main
from lstm_verify.laws import replace_table

ROOT = Path(__file__).parents[1]
RUN = ROOT / "docs" / "conformance.json"


def test_every_feature_is_measured_by_laws_the_kit_has():
    assert set(conformance.LAWS) <= set(properties.collect())
    assert all(feature.laws for feature in conformance.FEATURES)


def test_the_page_holds_the_table_the_committed_run_renders():
    page = ROOT / "docs" / "conformance.md"
    table = conformance.render(conformance.read(RUN))
    assert replace_table(page.read_text(), table, conformance.START, conformance.END) == page.read_text(), (
        "docs/conformance.md is out of date: `lstm-verify matrix --from docs/conformance.json --write "
        "docs/conformance.md`")


def _row(table: str, column: str) -> dict[str, str]:
    """The cells of ``column``'s row, by feature heading."""
    lines = table.splitlines()
    heads = [h.strip() for h in lines[0].strip("|").split("|")][1:]
    row = next(line for line in lines if line.startswith(f"| `{column}` |"))
    return dict(zip(heads, [c.strip() for c in row.strip("|").split("|")][1:]))


def test_a_cell_is_the_worst_result_of_its_laws():
    """On the committed run's records: a passing check made to fail turns its cells FAIL; an
    expected failure naming an upstream issue makes its cell known, the issue linked in its note."""
    results = conformance.read(RUN)
    passed = next(r for r in results if r.property == conformance.SEQUENCE and r.status == "passed"
                  and r.implementation == "onnxruntime-float32")
    assert _row(conformance.render(results), "onnxruntime")["direction: forward"] == "pass"
    broken = [replace(r, status="failed", reason="hs[0] wrong") if r is passed else r for r in results]
    row = _row(conformance.render(broken), "onnxruntime")
    assert row["direction: forward"].startswith("FAIL [") and row["dtype: float32"].startswith("FAIL [")
    assert row["direction: reverse"] == "pass"
    known = [replace(r, status="xfailed", reason="clip on the gates only (microsoft/onnxruntime#27224)")
             if r is passed else r for r in results]
    table = conformance.render(known)
    assert _row(table, "onnxruntime")["direction: forward"].startswith("known [")
    assert "[microsoft/onnxruntime#27224](https://github.com/microsoft/onnxruntime/issues/27224)" in table


def test_a_disagreement_links_the_standalone_reproduction_where_there_is_one():
    """tract has docs/repro/tract_lstm.py: its known and failing cells link it; onnxruntime has none."""
    results = [replace(r, implementation=r.implementation.replace("onnx-reference", "tract"))
               for r in conformance.read(RUN)]
    table = conformance.render(results)
    assert _row(table, "tract")["clip: spec reading"].startswith("known [")
    assert "[docs/repro/tract_lstm.py](repro/tract_lstm.py)" in table
    assert "repro/onnxruntime" not in table


def test_matrix_command_renders_a_report_and_refuses_an_unreadable_one(tmp_path, capsys):
    assert main(["matrix", "--from", str(RUN)]) == 0
    assert capsys.readouterr().out.strip() == conformance.render(conformance.read(RUN))
    (tmp_path / "bad.json").write_text("{")
    assert main(["matrix", "--from", str(tmp_path / "bad.json")]) == 2
    (tmp_path / "none.json").write_text("[]")
    assert main(["matrix", "--from", str(tmp_path / "none.json")]) == 3


REPROS = sorted((ROOT / "docs" / "repro").glob("*_lstm.py"))
NEEDS = {"opencv_lstm.py": ("cv2",), "tract_lstm.py": ("tract",), "litert_fused_lstm.py": ("tensorflow", "ai_edge_litert"),
         "litert_fused_int8_lstm.py": ("tensorflow", "ai_edge_litert")}


@pytest.mark.parametrize("script", REPROS, ids=lambda p: p.name)
def test_each_standalone_reproduction_runs_and_shows_its_finding(script):
    """An upstream reproduction that no longer runs is worse than none: each runs alone (no kit
    import) and prints the runtime's answer next to the specification's or the framework's."""
    for module in NEEDS[script.name]:
        pytest.importorskip(module)
    assert "lstm_verify" not in script.read_text()
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600,
                         cwd=script.parent)
    assert run.returncode == 0, run.stderr[-2000:]
    assert re.search(r"ONNX|TensorFlow", run.stdout), run.stdout
