"""``lstm-verify bench``: its options and what it runs (called by :mod:`lstm_verify.cli`)."""

from __future__ import annotations

from typing import Any

from lstm_verify.adapters import builtin_adapter
from lstm_verify.bench.hardware import devices
from lstm_verify.bench.report import plot, table
from lstm_verify.bench.rows import Row, Subject, run
from lstm_verify.bench.shapes import MODES, QUICK_SHAPES, SHAPES, Shape, parse_shape


def add_arguments(parser: Any) -> None:
    """The options of ``lstm-verify bench``."""
    from lstm_verify.config import add_target_arguments

    add_target_arguments(parser)
    parser.add_argument("--adapters", default="all", help="built-in adapters without TARGET (comma-separated)")
    parser.add_argument("--shapes", default=None,
                        help=f"named shapes, comma-separated, or 'all' ({', '.join(f'{k}: {v}' for k, v in SHAPES.items())}); "
                             f"default {','.join(QUICK_SHAPES)}")
    parser.add_argument("--shape", action="append", default=[], metavar="B,I,H,T", type=_shape_arg,
                        help="a shape of your own (repeatable); replaces --shapes unless that is given too")
    parser.add_argument("--modes", default=",".join(MODES), help="step,forward,forward_backward")
    parser.add_argument("--dtypes", default="float32", help="precisions, if the implementation declares them")
    parser.add_argument("--devices", default=None, help="cpu,cuda (default: every device present)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats after warm-up (default 5)")
    parser.add_argument("--min-time", type=float, default=0.01,
                        help="seconds one repeat lasts at least, calling the implementation several times")
    parser.add_argument("--quick", action="store_true", help="3 repeats of at least 2 ms, streaming shape only")
    parser.add_argument("--no-baselines", action="store_true", help="skip nn.LSTM / nn.LSTMCell baselines")
    parser.add_argument("--json", metavar="PATH", help="write one record per row")
    parser.add_argument("--plot", default="lstm-bench", metavar="PREFIX",
                        help="write PREFIX.png and PREFIX.svg (default lstm-bench); '' for none")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def _shape_arg(text: str) -> Shape:
    import argparse

    try:
        return parse_shape(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _split(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def command(args: Any) -> int:
    """``lstm-verify bench``: 0 when every timed row agrees with the reference, 1 when any does
    not, 2 when TARGET or an option is wrong."""
    import json
    import sys

    from lstm_verify.adapters import BUILTIN
    from lstm_verify.targets import TargetError, chosen_adapters

    try:
        adapters = chosen_adapters(args)
        if adapters is not None:  # one per LSTM node of an ONNX model (<model>/<node>); <name>-via-onnx
            subjects = [Subject(a.name, a) for a in adapters]
        else:
            names = [n for n in BUILTIN if not n.endswith("-cuda")] if args.adapters == "all" else _split(args.adapters)
            unknown = [n for n in names if n not in BUILTIN]
            if unknown:
                raise TargetError(f"unknown adapter {unknown[0]!r}; choose from {', '.join(BUILTIN)}")
            subjects = [Subject(n, builtin_adapter(n)) for n in names]
        if args.shapes:
            named = list(SHAPES) if args.shapes == "all" else _split(args.shapes)
        else:
            named = [] if args.shape else ["streaming"] if args.quick else list(QUICK_SHAPES)
        unknown = [n for n in named if n not in SHAPES]
        if unknown:
            raise TargetError(f"unknown shape {unknown[0]!r}; choose from {', '.join(SHAPES)} or give --shape B,I,H,T")
        modes = _split(args.modes)
        if not set(modes) <= set(MODES):
            raise TargetError(f"--modes takes {', '.join(MODES)}; got {args.modes!r}")
    except TargetError as exc:
        print(f"lstm-verify: {exc}", file=sys.stderr)
        return 2
    shapes = {n: SHAPES[n] for n in named}
    shapes.update({"custom " + ",".join(map(str, s)): s for s in args.shape})
    repeats, min_time = (3, 0.002) if args.quick else (args.repeats, args.min_time)
    device_list = _split(args.devices) if args.devices else devices()

    def progress(row: Row) -> None:
        if not args.quiet:
            what = f"{row.us_per_step:.4g} us/step" if row.status != "skipped" else f"skipped: {row.reason}"
            print(f"  {row.implementation} {row.shape} {row.device} {row.dtype} {row.mode}: {what}", file=sys.stderr)

    rows = run(subjects, shapes, device_list, _split(args.dtypes), modes, repeats, min_time,
               not args.no_baselines, progress)
    print(table(rows))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([r.as_dict() for r in rows], fh, indent=1)
    if args.plot:
        try:
            print("plot: " + ", ".join(plot(rows, args.plot)))
        except ImportError:
            print("plot: not drawn, matplotlib is not installed (pip install 'lstm-verify[bench]')")
    return 1 if any(r.status == "WRONG" for r in rows) else 0
