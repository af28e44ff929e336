"""``lstm-verify check --shard K/N`` and ``lstm-verify merge``: the shards' merged report is the
unsharded run's, record for record, with the same matrix, summary and exit status."""

import json
import subprocess
import sys

import pytest

from lstm_verify.shard import DEFAULT_COST, assign, cost, cost_table, parse_shard
from tests.catalogue import HERE


def lstm_verify(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lstm_verify.cli", *args], capture_output=True, text=True,
                          timeout=600)


def check(report, *args: str) -> subprocess.CompletedProcess:
    """A defective step (failures with counterexamples), one dtype, the laws of two chapters."""
    return lstm_verify("check", f"{HERE}/numpy_steps.py:hard_sigmoid", "--kind", "numpy-step", "--dtypes", "float64",
                       "--profile", "ci", "-k", "gate or shapes", "--quiet", "--json", str(report), *args)


def without_times(path) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("seconds", "compile_seconds")} for r in json.loads(path.read_text())]


def test_merged_shards_equal_the_unsharded_run(tmp_path):
    whole = check(tmp_path / "whole.json")
    shards = [check(tmp_path / f"{k}.json", "--shard", f"{k}/2") for k in (1, 2)]
    merged = lstm_verify("merge", str(tmp_path / "2.json"), str(tmp_path / "1.json"), "--json",
                         str(tmp_path / "merged.json"))
    assert whole.returncode == merged.returncode == 1, whole.stdout + merged.stdout + merged.stderr
    assert all(s.returncode == 1 for s in shards)  # hard_sigmoid breaks a law of each shard here
    assert without_times(tmp_path / "merged.json") == without_times(tmp_path / "whole.json")
    assert merged.stdout.strip() == whole.stdout.rpartition("\nwall time")[0].strip()
    records = [json.loads((tmp_path / f"{k}.json").read_text()) for k in (1, 2)]
    assert {r["shard"] for r in records[0]} == {"1/2"} and len(records[0]) + len(records[1]) == len(
        without_times(tmp_path / "whole.json"))

    missing = lstm_verify("merge", str(tmp_path / "1.json"))
    assert missing.returncode == 2 and "shard 2/2 missing" in missing.stderr
    twice = lstm_verify("merge", str(tmp_path / "1.json"), str(tmp_path / "1.json"), str(tmp_path / "2.json"))
    assert twice.returncode == 2 and "is in both" in twice.stderr


def test_the_split_is_deterministic_and_balanced_by_cost():
    costs = {"test_slow": {"a": 10.0, "*": 6.0}, "test_fast": {"*": 1.0}}
    checks = [("test_slow", "a"), ("test_slow", "b"), ("test_fast", "a"), ("test_fast", "b"), ("test_new", "a")]
    where = assign(checks, 2, costs)
    assert where == assign(list(checks), 2, costs)
    assert [cost(costs, *c) for c in checks] == [10.0, 6.0, 1.0, 1.0, DEFAULT_COST]
    loads = [sum(cost(costs, *c) for c, s in zip(checks, where) if s == k) for k in (0, 1)]
    assert loads == [10.0, 9.0]  # the 10 s check alone on the first; 6 + 1 + 1 + 1 on the second


def test_cost_table_from_a_report():
    records = [{"property": "test_x", "implementation": i, "status": s, "seconds": t}
               for i, s, t in (("a", "passed", 1.0), ("b", "failed", 3.0), ("c", "passed", 2.0), ("d", "skipped", 0.0))]
    assert cost_table(records) == {"test_x": {"a": 1.0, "b": 3.0, "c": 2.0, "*": 2.0}}


@pytest.mark.parametrize("text", ["0/2", "3/2", "2", "a/b", "1/0"])
def test_a_shard_is_k_of_n(text):
    with pytest.raises(ValueError, match="K/N"):
        parse_shard(text)
