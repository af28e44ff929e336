"""``lstm-verify``: the command line, a thin layer over :mod:`lstm_verify.runner` and :mod:`lstm_verify.export`.

``check`` exits 0 when every applicable property passes, 1 when any fails, 2 when TARGET
cannot be loaded or the arguments are wrong (one line on stderr, no traceback).
``export DIR`` writes the portable golden vectors to DIR and exits 0, or 2 when the arguments
are wrong or DIR cannot be written."""

from __future__ import annotations

import argparse
import json
import sys
import time

from lstm_verify import export
from lstm_verify.guard import DEFAULT_TIME_LIMIT
from lstm_verify.pytest_plugin import DTYPES, PROFILES
from lstm_verify.targets import KINDS, TargetError, resolve, target_adapter
from lstm_verify.xfails import XfailError, read_xfails, unmatched


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        self.exit(2, f"lstm-verify: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lstm-verify", description="Check LSTM implementations against a float64 reference "
                                                     "with hypothesis properties.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    check = sub.add_parser("check", help="run the whole property suite on TARGET, or on every built-in adapter")
    check.add_argument("target", nargs="?", metavar="TARGET",
                       help="package.module:attr or path/to/file.py:attr; without it, the built-in adapters")
    check.add_argument("--kind", default="torch-cell", choices=KINDS, help="what TARGET is (default torch-cell)")
    check.add_argument("--layout", metavar="ORDER", help="TARGET's gate-block order if not ifgo, e.g. iofc")
    check.add_argument("--adapters", default="all", help="built-in adapters to check (comma-separated, or 'all')")
    check.add_argument("--dtypes", default=",".join(DTYPES), help="comma-separated dtypes")
    check.add_argument("--profile", default="ci", choices=sorted(PROFILES), help="hypothesis profile (default ci)")
    check.add_argument("-n", "--workers", default="0", help="parallel workers: a number or 'auto'")
    check.add_argument("--xfail", metavar="FILE", help="expected failures: 'property-id: reason' per line")
    check.add_argument("--timeout", type=float, default=DEFAULT_TIME_LIMIT,
                       help=f"seconds one call into the implementation may take (default {DEFAULT_TIME_LIMIT:g})")
    check.add_argument("--json", metavar="PATH", help="write one record per implementation and property")
    check.add_argument("--markdown", metavar="PATH", help="write the matrix as a Markdown table")
    check.add_argument("--quiet", action="store_true", help="no progress lines")
    vectors = sub.add_parser("export", help="write golden vectors (npz, JSON, manifest.json) for other languages")
    vectors.add_argument("directory", metavar="DIR", help="where to write them (created if missing)")
    vectors.add_argument("--dtypes", default=",".join(export.DTYPES), type=_export_dtypes,
                         help=f"comma-separated, from {','.join(export.DTYPES)} (default both)")
    return parser


def _export_dtypes(value: str) -> list[str]:
    dtypes = list(dict.fromkeys(value.split(",")))
    unknown = sorted(set(dtypes) - set(export.DTYPES))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown dtype {unknown[0]!r}; choose from {','.join(export.DTYPES)}")
    return dtypes


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return _export(args) if args.command == "export" else _check(args)


def _export(args: argparse.Namespace) -> int:
    try:
        manifest = export.export(args.directory, args.dtypes)
    except OSError as exc:
        print(f"lstm-verify: cannot write to {args.directory}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(manifest['cases'])} cases x {len(args.dtypes)} dtypes (npz and JSON) and manifest.json "
          f"to {args.directory}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from lstm_verify.runner import failures, markdown, matrix, progress_line, run_suite, summary

    try:
        if args.target:
            target_adapter(args.target, args.kind, args.layout)
        entries = read_xfails(args.xfail) if args.xfail else {}
    except (TargetError, XfailError) as exc:
        print(f"lstm-verify: {exc}", file=sys.stderr)
        return 2
    options = {"--lstm-impl": resolve(args.target) if args.target else None, "--lstm-kind": args.kind,
               "--lstm-layout": args.layout, "--lstm-adapters": args.adapters, "--lstm-dtypes": args.dtypes,
               "--lstm-profile": args.profile, "--lstm-xfail": args.xfail, "--lstm-timeout": args.timeout}
    start = time.perf_counter()
    code, results, output = run_suite(options, args.workers, None if args.quiet else progress_line)
    if not results:
        print(output.rstrip().splitlines()[-1] if output.strip() else f"pytest exited with {code}", file=sys.stderr)
        return 2
    print(matrix(results))
    report = failures(results)
    if report:
        print("\n" + report)
    for key in unmatched(entries, [(r.property, r.implementation) for r in results]):
        print(f"warning: expected-failure entry {key!r} matches no check", file=sys.stderr)
    print(summary(results))
    print(f"wall time {time.perf_counter() - start:.1f} s with -n {args.workers}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([r.as_dict() for r in results], fh, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(markdown(results))
    return 1 if any(r.status == "failed" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
