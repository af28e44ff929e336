"""Sharding the checks across CI jobs: ``lstm-verify check --shard K/N`` runs the K-th of N
parts of equal measured cost, ``lstm-verify merge`` puts the parts' JSON reports back into
one matrix, summary and exit status.

Every shard collects every check and splits them the same way (longest first, each onto the
least-loaded shard, ties broken by name), so the shards need not talk to each other. The cost
of a check comes from ``costs.json``: seconds per property and implementation, measured from
a JSON report (:func:`cost_table`); ``*`` is a property's median, for implementations the
table has not seen. Registered as a pytest plugin by the lstm_verify plugin in a session that checks implementations
(its ``--lstm-shard`` option is declared in :mod:`lstm_verify.config`)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from lstm_verify.config import options_from_pytest

COSTS = Path(__file__).with_name("costs.json")
DEFAULT_COST = 1.0
"""Seconds assumed for a property the cost table does not know."""


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N), 1 <= K <= N; ValueError otherwise."""
    k, sep, n = text.partition("/")
    if not (sep and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise ValueError(f"a shard is K/N with 1 <= K <= N, e.g. 2/4; got {text!r}")
    return int(k), int(n)


def load_costs(path: Path = COSTS) -> dict[str, dict[str, float]]:
    return json.loads(path.read_text())


def cost(costs: dict[str, dict[str, float]], prop: str, impl: str) -> float:
    """Measured seconds of ``prop[impl]``, else the property's median, else :data:`DEFAULT_COST`."""
    law = costs.get(prop, {})
    return law.get(impl, law.get("*", DEFAULT_COST))


def assign(checks: list[tuple[str, str]], shards: int, costs: dict[str, dict[str, float]]) -> list[int]:
    """The shard (0-based) of each (property, implementation): longest first, onto the
    least-loaded shard. Deterministic: the same checks give the same split on every machine."""
    order = sorted(range(len(checks)), key=lambda k: (-cost(costs, *checks[k]), checks[k]))
    loads, where = [0.0] * shards, [0] * len(checks)
    for k in order:
        where[k] = min(range(shards), key=lambda s: (loads[s], s))
        loads[where[k]] += cost(costs, *checks[k])
    return where


def cost_table(records: list[dict]) -> dict[str, dict[str, float]]:
    """Seconds per property and implementation from a JSON report (checks that ran, not
    skipped ones), with each property's median under ``*``."""
    table: dict[str, dict[str, float]] = {}
    for r in records:
        if r["status"] != "skipped":
            table.setdefault(r["property"], {})[r["implementation"]] = round(r["seconds"], 2)
    return {prop: {**dict(sorted(times.items())), "*": round(statistics.median(times.values()), 2)}
            for prop, times in sorted(table.items())}


@pytest.hookimpl(trylast=True)  # after -k and other selections, so the shards split what is left
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    shard = options_from_pytest(config).shard
    if not shard:
        return
    k, n = parse_shard(shard)
    checks = [(item.originalname, item.name.partition("[")[2].removesuffix("]")) for item in items]
    where = assign(checks, n, load_costs())
    keep = [item for item, s in zip(items, where) if s == k - 1]
    config.hook.pytest_deselected(items=[item for item, s in zip(items, where) if s != k - 1])
    items[:] = keep


class MergeError(Exception):
    """The reports cannot be merged; the message is one line for the user."""


def merge(paths: list[str]) -> list[dict]:
    """The records of the shards' JSON reports as one unsharded report: every shard 1..N
    present once, no check twice."""
    records, seen = [], {}
    for path in paths:
        try:
            part = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise MergeError(f"cannot read {path}: {exc}") from None
        for r in part:
            key = (r["property"], r["implementation"])
            if key in seen:
                raise MergeError(f"{key[0]}[{key[1]}] is in both {seen[key]} and {path}")
            seen[key] = path
            records.append(r)
    shards = {r.get("shard", "") for r in records}
    counts = {parse_shard(s)[1] for s in shards if s}
    if "" in shards or len(counts) != 1:
        raise MergeError(f"the reports are not the shards of one run: shards {', '.join(sorted(shards)) or 'none'}")
    n = counts.pop()
    missing = [f"{k}/{n}" for k in range(1, n + 1) if f"{k}/{n}" not in shards]
    if missing:
        raise MergeError(f"shard {', '.join(missing)} missing: merge the reports of all {n} shards")
    return sorted(({**r, "shard": ""} for r in records), key=lambda r: (r["property"], r["implementation"]))


if __name__ == "__main__":  # python -m lstm_verify.shard REPORT.json > lstm_verify/costs.json
    import sys

    print(json.dumps(cost_table(json.loads(Path(sys.argv[1]).read_text())), indent=1))
