"""``lstm-verify bench`` and :mod:`lstm_verify.bench`: rows are timed, checked and compared, a wrong
kernel is flagged rather than reported as fast, and the report, JSON and plot are written."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lstm_verify import bench
from lstm_verify.cli import main
from lstm_verify.reference import Variant
from lstm_verify.targets import target_adapter

CATALOGUE = Path(__file__).parent / "catalogue"
TINY = bench.Shape(2, 3, 4, 5)


def test_flops_per_step_is_the_stated_formula():
    shape = bench.SHAPES["fastrnns"]
    assert bench.flops_per_step(shape) == 2 * 64 * 4 * 512 * (512 + 512)
    assert bench.flops_per_step(shape, "forward_backward") == 3 * bench.flops_per_step(shape)


@pytest.mark.parametrize("text", ["1,2,3", "1,2,3,x", "0,2,3,4"])
def test_parse_shape_rejects_bad_shapes(text):
    with pytest.raises(ValueError, match="B,I,H,T"):
        bench.parse_shape(text)


def test_correct_numpy_port_is_timed_and_agrees():
    adapter = target_adapter(f"{CATALOGUE}/numpy_steps.py:step", "numpy-step")
    rows = bench.measure(adapter, TINY, "cpu", "float32", repeats=2, min_time=0.0)
    step, forward, backward = rows
    for row in (step, forward):
        assert row.status == "ok" and row.agreement == "ok", row
        assert row.us_per_step > 0 and row.gflops > 0 and row.repeats == 2
    assert backward.status == "skipped" and "forward + backward" in backward.reason


def test_wrong_kernel_is_flagged_not_reported_as_fast():
    adapter = target_adapter(f"{CATALOGUE}/numpy_steps.py:dropped_recurrent_bias", "numpy-step")
    rows = bench.measure(adapter, TINY, "cpu", "float32", modes=("forward",), repeats=2, min_time=0.0)
    assert rows[0].status == "WRONG"
    assert rows[0].agreement.startswith(("hs", "c_T")) and "but should be" in rows[0].agreement


@pytest.mark.parametrize("match, status", [(r"^(hs|c_T)\[", "ok"), (r"^never$", "WRONG")])
def test_a_disagreement_a_known_difference_names_keeps_its_time(match, status):
    """The bench's forward check is the sequence law's claim: the adapter's known difference for that
    law, matching the violation, keeps the row timed and says so; one that does not match, does not."""
    from lstm_verify.expected import Expected

    adapter = target_adapter(f"{CATALOGUE}/numpy_steps.py:dropped_recurrent_bias", "numpy-step")
    known = Expected("test_sequence_agrees_with_reference", "the recurrent bias is dropped", match=match)
    adapter.known_differences = lambda dtype: [known]
    (row,) = bench.measure(adapter, TINY, "cpu", "float32", modes=("forward",), repeats=2, min_time=0.0)
    assert row.status == status and row.us_per_step > 0
    assert (row.agreement == f"{bench.KNOWN}the recurrent bias is dropped") == (status == "ok"), row.agreement
    assert ("known " in bench.table([row])) == (status == "ok")


@pytest.mark.parametrize("computes, status", [(Variant(clip=0.5, clip_reading="cell"), "ok"),
                                              (Variant(clip=0.4, clip_reading="cell"), "WRONG")])
def test_a_known_difference_that_computes_another_cell_holds_the_row_to_it(computes, status):
    """A cell clip the column is not supposed to have (a converter's) shows anywhere in h once it
    bites: the known difference says what the column computes instead, and the row agrees with that
    cell or is WRONG."""
    from dataclasses import replace

    from lstm_verify.expected import Expected
    from lstm_verify.reference import PLAIN

    adapter = target_adapter(f"{CATALOGUE}/numpy_steps.py:cell_clip_step", "numpy-step")
    adapter.capabilities = replace(adapter.capabilities, variant=PLAIN)  # a column meant to be the plain LSTM
    adapter.known_differences = lambda dtype: [Expected("test_sequence_agrees_with_reference", "clips its cell",
                                                        match="^never$", computes=computes)]
    (row,) = bench.measure(adapter, TINY, "cpu", "float64", modes=("forward",), repeats=2, min_time=0.0)
    assert row.status == status, row.agreement


def test_the_check_reads_the_last_timed_call():
    """time_call keeps the last timed call's output, so the agreement check costs no call of its own."""
    calls = []
    timing = bench.time_call(lambda: calls.append(None) or len(calls), repeats=3, min_time=0.0)
    assert len(calls) == 1 + 1 + 3 * timing.number and timing.output == len(calls)


def test_gradients_are_checked_against_bptt():
    adapter = bench.builtin_adapter("numpy")
    (row,) = bench.measure(adapter, TINY, "cpu", "float64", modes=("forward_backward",), repeats=2, min_time=0.0)
    assert row.status == "ok" and row.agreement == "ok"
    assert row.flops_per_step == 3 * bench.flops_per_step(TINY)


def test_ratios_and_peak_fraction():
    rows = [bench.Row(name, "s", *TINY, "cpu", "float32", "forward", us_per_step=us, flops_per_step=1e6,
                      gflops=1e6 / (us * 1e-6) / 1e9) for name, us in (("mine", 30.0), ("torch-lstm", 10.0),
                                                                       ("torch-cell", 60.0))]
    bench.add_ratios(rows)
    bench.add_peaks(rows, {("cpu", "float32"): 1e12})
    assert rows[0].ratios == {"torch-lstm": 3.0, "torch-cell": 0.5}
    assert "torch-lstm" not in rows[1].ratios
    assert math.isclose(rows[0].peak_fraction, (1e6 / 30e-6) / 1e12)
    assert math.isclose(rows[0].floor_us_per_step, 1e6 / 1e12 * 1e6)


def test_cli_writes_table_json_and_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "rows.json"
    code = main(["bench", f"{CATALOGUE}/numpy_steps.py:step", "--kind", "numpy-step", "--shape", "2,3,4,5",
                 "--no-baselines", "--repeats", "2", "--json", str(out), "--plot", str(tmp_path / "p"), "--quiet"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "us/step" in text and "of peak" in text and "2*B*4H*(I+H)" in text
    rows = json.loads(out.read_text())
    assert {r["mode"] for r in rows} == set(bench.MODES)
    assert all(r["peak_fraction"] > 0 for r in rows if r["status"] == "ok")
    assert (tmp_path / "p.png").stat().st_size > 0 and (tmp_path / "p.svg").stat().st_size > 0


def test_cli_exits_1_on_a_wrong_kernel(tmp_path, capsys):
    code = main(["bench", f"{CATALOGUE}/numpy_steps.py:swapped_gate_blocks", "--kind", "numpy-step",
                 "--shape", "2,3,4,5", "--modes", "step", "--no-baselines", "--repeats", "2", "--plot", "",
                 "--quiet"])
    assert code == 1
    assert "WRONG swapped_gate_blocks" in capsys.readouterr().out


@pytest.mark.parametrize("args", [["--shape", "1,2"], ["--shapes", "huge"], ["--modes", "sideways"],
                                  ["nowhere.py:Cell"]])
def test_cli_exits_2_on_bad_arguments(args, capsys):
    try:
        code = main(["bench", *args, "--plot", ""])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == 2
    assert capsys.readouterr().err.startswith("lstm-verify")


def test_torch_cell_against_baselines(tmp_path):
    pytest.importorskip("torch")
    adapter = target_adapter(f"{CATALOGUE}/torch_cells.py:HandWrittenCell", "torch-cell")
    rows = bench.run([bench.Subject("HandWrittenCell", adapter)], {"tiny": TINY}, ["cpu"], ["float32"],
                     modes=("forward", "forward_backward"), repeats=2, min_time=0.0)
    mine = [r for r in rows if r.implementation == "HandWrittenCell"]
    assert {r.implementation for r in rows} == {"HandWrittenCell", "torch-lstm", "torch-cell"}
    for row in mine:
        assert row.status == "ok", row
        assert set(row.ratios) == {"torch-lstm", "torch-cell"} and row.peak_fraction > 0


@pytest.mark.parametrize("name", ["torch-cell", "torch-lstm"])
def test_torch_rows_agree_in_float64(name):
    """The torch runner reads its outputs back without rounding them: float64 rows agree with the
    float64 bound (they were rounded to float32 once and marked WRONG)."""
    pytest.importorskip("torch")
    rows = bench.measure(bench.builtin_adapter(name), TINY, "cpu", "float64", repeats=2, min_time=0.0)
    for row in rows:
        assert row.status == "ok" and row.agreement == "ok", row
