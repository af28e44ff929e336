"""``lstm-verify``: the command line, a thin layer over :mod:`lstm_verify.runner`."""

from __future__ import annotations

import argparse
import json
import sys
import time

from lstm_verify.pytest_plugin import DTYPES, PROFILES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lstm-verify", description="Check LSTM implementations against "
                                     "a float64 reference with hypothesis properties.")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="run the whole property suite on the built-in adapters")
    check.add_argument("--adapters", default="all", help="comma-separated adapter names, or 'all'")
    check.add_argument("--dtypes", default=",".join(DTYPES), help="comma-separated dtypes")
    check.add_argument("--profile", default="ci", choices=sorted(PROFILES), help="hypothesis profile")
    check.add_argument("-n", "--workers", default="0", help="pytest-xdist workers (a number or 'auto')")
    check.add_argument("--json", metavar="PATH", help="write one record per implementation and property")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from lstm_verify.runner import matrix, run_suite

    start = time.perf_counter()
    code, results = run_suite(args.adapters, args.dtypes, args.profile, args.workers)
    print(matrix(results))
    print(f"wall time {time.perf_counter() - start:.1f} s with -n {args.workers}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([r.as_dict() for r in results], fh, indent=1)
    if not results:
        return 2 if code not in (0, 1) else 1
    return 1 if any(r.status == "failed" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
