"""How far each catalogue entry is from the reference, in units of its error bound, per precision:
``python -m tests.catalogue.margins [--match TEXT]``.

For every entry and every declared precision, the largest ``|got - want| / bound`` over one step
and an 8-step sequence at the three small shapes, and one step at four sizes of the ladder: a
correct implementation must stay well below 1, a numeric defect must exceed it (by 100 or more
to be caught with margin). Entries whose defect is not numeric (a wrong shape, state kept
between calls, an exception) are listed as such. Its output is in the README ("The error model");
``tests/test_catalogue_margins.py`` holds the numeric defects to it. ``--sizes numpy,torch-lstm,jax`` prints the same ratio for one step
of built-in adapters at every size of the ladder, per dtype."""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from lstm_verify import reference
from lstm_verify.implementation import Implementation
from lstm_verify.params import Case
from lstm_verify.strategies import SHAPES
from tests.catalogue import CATALOGUE, Entry

SHAPES_CHECKED = SHAPES + ((65, 8, 9), (8, 129, 129), (33, 512, 512), (256, 16, 17))
COLUMNS = (("float64", "ieee"), ("float32", "ieee"), ("float32", "tf32"), ("float16", "ieee"), ("bfloat16", "ieee"))


def _ratio(got: np.ndarray, want: np.ndarray, bound: np.ndarray) -> float:
    got = np.asarray(got, np.float64)
    if got.shape != want.shape or not np.all(np.isfinite(got)):
        raise ValueError(f"shape {got.shape} or non-finite values")
    return float((np.abs(got - want) / bound).max())


def worst_ratio(entry: Entry, dtype: str, precision: str,
                shapes: tuple[tuple[int, int, int], ...] = SHAPES_CHECKED) -> float:
    """The largest error / bound of ``entry`` at ``dtype`` and ``precision`` over the fixed cases
    (one step at each of ``shapes``, and 8 steps at those of :data:`SHAPES`)."""
    impl = entry.implementation(time_limit=60.0)
    impl = Implementation(impl.adapter, dtype, impl.time_limit, precision)
    worst = 0.0
    for k, (batch, inputs, hidden) in enumerate(shapes):
        for steps in ((1, 8) if (batch, inputs, hidden) in SHAPES else (1,)):
            params, xs, h0, c0 = impl.arrays(Case(batch, inputs, hidden, steps, seed=k))
            want, bound = impl.expected(params, xs, h0, c0)  # in the cell the entry declares (a clip, peepholes)
            hs, (_, c) = impl.run(params, xs, h0, c0)
            worst = max(worst, _ratio(hs, want.hs, bound.hs), _ratio(c, want.cs[-1], bound.cs[-1]))
    return worst


def cell(entry: Entry, dtype: str, precision: str) -> str:
    try:
        return f"{worst_ratio(entry, dtype, precision):.3g}"
    except Exception as exc:  # a defect that is not numeric, or a dtype the target cannot take
        return f"n/a ({type(exc).__name__})"


def sizes(adapters: list[str]) -> None:
    """Per size of the ladder: the largest error / bound of one step of each built-in adapter, per dtype."""
    from lstm_verify.implementation import implementation
    from lstm_verify.strategies import KERNEL_SHAPES

    dtypes = ("float64", "float32", "float16", "bfloat16")
    impls = [implementation(a, d) for a in adapters for d in dtypes]
    impls = [i for i in impls if not i.skip_reason()]
    print("| B, I, H | " + " | ".join(i.id for i in impls) + " |")
    print("| --- |" + " --- |" * len(impls))
    for k, shape in enumerate(KERNEL_SHAPES):
        params, xs, h0, c0 = Case(*shape, steps=1, seed=k).arrays()
        want = reference.lstm_forward(params, xs, h0, c0)
        row = []
        for impl in impls:
            bound = impl.forward_bounds(params, xs, h0, c0)
            hs, (_, c) = impl.run(params, xs, h0, c0)
            row.append(f"{max(_ratio(hs, want.hs, bound.hs), _ratio(c, want.cs[-1], bound.cs[-1])):.2g}")
        print(f"| {', '.join(map(str, shape))} | " + " | ".join(row) + " |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--match", default="", help="only the entries whose target contains this")
    parser.add_argument("--sizes", metavar="ADAPTERS", help="instead: the ladder, for these built-in adapters")
    args = parser.parse_args()
    if args.sizes:
        sizes(args.sizes.split(","))
        return 0
    heads = [f"{d}{'' if p == 'ieee' else ' ' + p}" for d, p in COLUMNS]
    print("| entry | kind | " + " | ".join(heads) + " |")
    print("| --- | --- |" + " --- |" * len(heads))
    seen = set()
    for entry in CATALOGUE:
        if args.match not in entry.target or entry.target in seen:
            continue
        seen.add(entry.target)
        entry = replace(entry, dtype="float64")
        label = f"`{entry.target}`" + (" (correct)" if not entry.breaks else "")
        print(f"| {label} | {entry.kind} | " + " | ".join(cell(entry, d, p) for d, p in COLUMNS) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
