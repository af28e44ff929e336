"""``python -m lstm_verify.measure``: a run records every value with its spread, machine, versions
and commit, merges into the record figure by figure, and the generated Markdown blocks are what
``render`` makes of the record, with no hand-typed timing beside them."""

from __future__ import annotations

import itertools
import json
import re
import shlex
import sys
import time
from pathlib import Path

import pytest

from lstm_verify import measure

ROOT = Path(__file__).resolve().parents[1]
CLOSING = "lstm-verify: 3 passed, 1 failed, 2 skipped, 0 xfailed (2 properties x 3 implementations, 9 examples)"
TIMING = re.compile(r"(?<![\w.])\d+(?:\.\d+)?[ \u00a0](?:ms|µs|s|min)(?!\w)")
"""A measured time in prose, as this project writes one: a number, a space, an abbreviated unit
("31.2 s", "11 min"). A limit or a budget is written out ("a time limit of 10 seconds")."""


def trivial(name: str, code: int = 0, **kw) -> measure.Figure:
    """A figure whose command prints a closing line and exits with ``code``: milliseconds to run."""
    return measure.Figure(name, f"a trivial command ({name})",
                          ("python", "-c", f"import sys; print({CLOSING!r}); sys.exit({code})"), **kw)


def fake_clock(*readings: float):
    return itertools.chain(readings).__next__


@pytest.fixture
def figures(monkeypatch):
    registry = {f.name: f for f in [trivial("one", headline="the first"), trivial("two"),
                                    trivial("never", headline="never run")]}
    monkeypatch.setattr(measure, "FIGURES", registry)
    return registry


def test_a_figure_records_every_run_its_median_and_spread(figures):
    entry = measure.measure(figures["one"], runs=3, clock=fake_clock(0, 2, 10, 15, 20, 21))
    assert entry["runs"] == [2, 5, 1] and entry["median"] == 2 and (entry["min"], entry["max"]) == (1, 5)
    assert entry["unit"] == "s" and entry["exit"] == [0, 0, 0]
    assert len(entry["cpu_seconds"]) == 3 and all(0 < cpu < 60 for cpu in entry["cpu_seconds"])
    assert entry["counts"] == [{"passed": 3, "failed": 1, "skipped": 2, "xfailed": 0}] * 3
    assert entry["command"] == "JAX_ENABLE_X64=1 " + shlex.join(figures["one"].argv)
    assert entry["what"] == figures["one"].what


@pytest.mark.parametrize("folder, seen", [("{cache}", [0, 0, 0]), ("{warm}", [1, 2, 3])])
def test_a_cold_run_gets_an_empty_folder_and_a_warm_one_the_folder_of_the_runs_before(folder, seen):
    counting = ("import sys, pathlib; d = pathlib.Path(sys.argv[1]); d.mkdir(exist_ok=True); "
                "n = len(list(d.iterdir())); (d / str(n)).touch(); print(n, 'passed')")
    entry = measure.measure(measure.Figure("folder", "files left in the folder", ("python", "-c", counting, folder)))
    assert [c["passed"] for c in entry["counts"]] == seen
    assert ("warm_up" in entry) == (folder == "{warm}")


def test_the_tree_root_is_filled_into_the_environment_and_shown_as_pwd():
    """asv drops PYTHONPATH from its benchmarks: the asv figures hand them the tree as ASV_PYTHONPATH."""
    figure = measure.Figure("root", "the tree's root", ("python", "-c", "import os; print(os.environ['WHERE'])"),
                            read=lambda output: output.stdout.strip(), env={"WHERE": "{root}"}, unit="")
    assert measure._run_once(figure, "", time.perf_counter)[1] == str(measure.ROOT)
    assert figure.command.startswith("WHERE=$PWD python -c")
    assert "ASV_PYTHONPATH=$PWD python -m asv run" in measure.FIGURES["asv-step-quick"].command


def test_a_session_names_machine_versions_commit_and_date():
    when = measure.session("loaded")
    assert set(when["machine"]) == {"cpu", "cores", "ram_gib", "os", "load_average"} and when["machine"]["cores"] >= 1
    assert when["versions"]["python"] == ".".join(map(str, sys.version_info[:3]))
    assert when["versions"]["numpy"] and when["versions"]["hypothesis"]
    assert re.fullmatch(r"[0-9a-f]{40}", when["commit"]) and isinstance(when["dirty"], bool)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", when["date"]) and when["note"] == "loaded"


def test_a_wrong_exit_status_is_not_a_measurement(figures):
    with pytest.raises(measure.MeasureError, match="exit 1, not 0"):
        measure.measure(trivial("fails", code=1), runs=1)
    assert measure.measure(trivial("defective", code=1, exit=1), runs=1)["exit"] == [1]


def test_a_failed_run_shows_the_end_of_its_output_above_its_warnings(figures):
    """A command that ends by printing its verdict and then a wall of warnings (pip's, at exit) fails
    with its verdict in the message: stdout's last lines, then stderr's."""
    noisy = measure.Figure("noisy", "a verdict, then warnings", ("python", "-c", "import sys; print('3 failed'); "
                           "[print('warning', n, file=sys.stderr) for n in range(50)]; sys.exit(1)"))
    with pytest.raises(measure.MeasureError, match=r"(?s)3 failed\n.*warning 49"):
        measure.measure(noisy, runs=1)


def test_a_run_replaces_only_its_figures_and_drops_unused_sessions(figures):
    first, second = ({"date": f"2026-01-0{day}T00:00:00Z", "machine": {}, "versions": {}} for day in (1, 2))
    record = measure.merge(measure.load(Path("/nonexistent")), first, [{"name": "two", "runs": [1]},
                                                                        {"name": "one", "runs": [2]}])
    assert list(record["figures"]) == ["one", "two"], "the registry's order"
    record = measure.merge(record, second, [{"name": "one", "runs": [3]}])
    assert record["figures"]["one"] == {"name": "one", "runs": [3], "session": second["date"]}
    assert record["figures"]["two"]["session"] == first["date"] and list(record["sessions"]) == [first["date"],
                                                                                                   second["date"]]
    record = measure.merge(record, second, [{"name": "two", "runs": [4]}])
    assert list(record["sessions"]) == [second["date"]]


def test_only_measures_the_named_figures_and_merges(figures, tmp_path):
    path = tmp_path / "record.json"
    assert measure.main(["--only", "one", "--runs", "2", "--record", str(path)]) == 0
    assert list(measure.load(path)["figures"]) == ["one"] and len(measure.load(path)["figures"]["one"]["runs"]) == 2
    assert measure.main(["--only", "two", "--runs", "1", "--record", str(path)]) == 0
    record = json.loads(path.read_text())
    assert list(record["figures"]) == ["one", "two"] and len(record["figures"]["one"]["runs"]) == 2
    with pytest.raises(SystemExit) as exit:
        measure.main(["--only", "nine", "--record", str(path)])
    assert exit.value.code == 2


def test_render_is_idempotent_and_never_invents_a_number(figures, tmp_path):
    path = tmp_path / "record.json"
    measure.main(["--only", "one", "--runs", "3", "--record", str(path)])
    record = measure.load(path)
    text = ("# Title\n\nprose\n\n<!-- measurements:headline -->\nstale\n<!-- /measurements:headline -->\n\nmore\n\n"
            "<!-- measurements:all -->\n<!-- /measurements:all -->\n")
    once = measure.render(text, record)
    assert measure.render(once, record) == once and "stale" not in once
    assert once.startswith("# Title\n\nprose\n\n<!-- measurements:headline -->\n") and "\n\nmore\n\n" in once
    entry = record["figures"]["one"]
    assert f"**{measure._number(entry['median'])} s**" in once and entry["command"] in once
    never = next(line for line in once.splitlines() if line.startswith("| never run |"))
    assert "not measured yet" in never and not re.search(r"\d", never)
    assert "| `never` | a trivial command (never) |" in once, "listed among the figures not measured yet"


def test_a_run_on_the_record_renders_the_docs_at_once(figures, tmp_path, monkeypatch):
    """A later figure of the same run (the kit's tests) checks the docs against the record."""
    doc = tmp_path / "doc.md"
    doc.write_text("<!-- measurements:all -->\n<!-- /measurements:all -->\n")
    monkeypatch.setattr(measure, "RECORD", tmp_path / "record.json")
    monkeypatch.setattr(measure, "RENDERED", (doc,))
    assert measure.main(["--only", "two", "--runs", "1"]) == 0
    assert "`two`" in doc.read_text() and doc.read_text() == measure.render(doc.read_text(), measure.load(measure.RECORD))


def test_the_command_renders_the_record(figures, tmp_path):
    path, doc = tmp_path / "record.json", tmp_path / "doc.md"
    measure.main(["--only", "two", "--runs", "1", "--record", str(path)])
    doc.write_text("<!-- measurements:all -->\n<!-- /measurements:all -->\n")
    assert measure.main(["--record", str(path), "render", str(doc)]) == 0
    assert doc.read_text() == measure.render(doc.read_text(), measure.load(path)) and "`two`" in doc.read_text()


def test_readings():
    assert measure.counts("x\n=== 964 passed, 360 skipped, 2 xfailed in 226.10s ===\n") == {
        "passed": 964, "skipped": 360, "xfailed": 2}
    assert measure.counts("no closing line") == {}
    printed = "head\n| a | b |\n| --- | --- |\n| 1 | 2 |\n"
    table = measure.markdown_table(measure.Output(printed, "", 0, 0.0, 0.0, Path()))
    assert table == {"columns": ["a", "b"], "rows": [["1", "2"]]}


def test_a_bench_row_that_disagrees_is_not_a_time(tmp_path):
    out = tmp_path / "rows.json"
    out.write_text(json.dumps([{"status": "WRONG", "reason": "", "agreement": "hs off", "us_per_step": 3.0}]))
    with pytest.raises(measure.MeasureError, match="WRONG: hs off"):
        measure.bench_us_per_step(measure.Output("", "", 0, 0.0, 0.0, out))


def test_the_timing_pattern_finds_measured_times_not_limits_or_counts():
    found = TIMING.findall("took 31.2 s, then 11 min 5 s; 0.4 ms a call, 51 µs warm (845 s cold)")
    assert found == ["31.2 s", "11 min", "5 s", "0.4 ms", "51 µs", "845 s"]
    assert not TIMING.findall("a limit of 10 seconds, 12 shapes, the 1990s, 3 steps, v0.4 s3, 2 minutes, float16 s")


def _markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _with_blocks(path: Path) -> str:
    text = path.read_text()
    if not measure.BLOCK.search(text):
        pytest.skip(f"{path.relative_to(ROOT)} has no generated measurement block")
    return text


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_generated_blocks_are_what_render_makes_of_the_record(path):
    text = _with_blocks(path)
    assert text == measure.render(text, measure.load()), (
        f"{path.relative_to(ROOT)}: a generated block differs from docs/measurements/record.json; "
        "run `python -m lstm_verify.measure render`")


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_hand_typed_timing_outside_the_generated_blocks(path):
    prose = measure.BLOCK.sub(lambda block: "\n" * block.group(0).count("\n"), _with_blocks(path))  # lines kept
    found = [f"line {prose[:m.start()].count(chr(10)) + 1}: {m.group(0)!r}" for m in TIMING.finditer(prose)]
    assert not found, (f"{path.relative_to(ROOT)} states times by hand ({'; '.join(found[:5])}): record them "
                       "with `python -m lstm_verify.measure` and render them, or write a limit out in words")
