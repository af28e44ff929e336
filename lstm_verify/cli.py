"""``lstm-verify``: the command line, a thin layer over :mod:`lstm_verify.runner` and :mod:`lstm_verify.export`.

``check`` exits 0 when every applicable property passes, 1 when any fails (or, with
``--strict-xfails``, an expected failure does not happen), 2 when TARGET cannot be loaded or the
arguments are wrong (one line on stderr, no traceback), 3 when nothing was checked: every check
skipped, or an adapter named in ``--adapters`` could not run at all.
``bench`` exits 0 when every timed call agrees with the reference, 1 when any does not, 2 when
the arguments are wrong (:mod:`lstm_verify.bench`).
``export DIR`` writes the portable golden vectors (or, with ``--format onnx``, ONNX backend-test
directories) to DIR and exits 0, or 2 when the arguments are wrong, DIR cannot be written or onnx
is missing."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from typing import NoReturn

from lstm_verify import bench, conformance, export, laws
from lstm_verify.cache import CacheDirError, use_cache_dir
from lstm_verify.config import BY_NAME, TARGET_OPTIONS, add_cli_arguments, add_target_arguments, options_from_args
from lstm_verify.error_model import PrecisionError, precision
from lstm_verify.expected import ExpectedError, read_expected, unmatched
from lstm_verify.guard import end_without_teardown
from lstm_verify.results import CHECKED, NOTHING_CHECKED, exit_status, unchecked
from lstm_verify.targets import TargetError, check_target_arguments, layout_table, resolve


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        self.exit(2, f"lstm-verify: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lstm-verify", description="Check LSTM implementations against a float64 reference "
                                                     "with hypothesis properties.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    check = sub.add_parser("check", help="run the whole property suite on TARGET, or on every built-in adapter")
    add_target_arguments(check)
    add_cli_arguments(check, tuple(n for n in BY_NAME if n not in TARGET_OPTIONS),
                      types={"precision": _precision, "shard": _shard})
    check.add_argument("-n", "--workers", default="0", help="parallel workers: a number or 'auto'")
    check.add_argument("--json", metavar="PATH", help="write one record per implementation and property")
    check.add_argument("--markdown", metavar="PATH", help="write the matrix as a Markdown table")
    check.add_argument("--quiet", action="store_true", help="no progress lines")
    check.add_argument("-k", metavar="EXPR", dest="select",
                       help="only the properties matching EXPR (pytest -k), e.g. 'gate or shapes'")
    merge = sub.add_parser("merge", help="combine the JSON reports of the shards of one run into its verdict")
    merge.add_argument("reports", nargs="+", metavar="REPORT.json", help="every shard's --json report")
    merge.add_argument("--json", metavar="PATH", help="write the merged records")
    merge.add_argument("--markdown", metavar="PATH", help="write the merged matrix as a Markdown table")
    bench.add_arguments(sub.add_parser("bench", help="time TARGET (or the built-in adapters) against torch "
                                                     "baselines, each timed call checked against the reference"))
    sub.add_parser("layouts", help="print every --layout and the parameters a TARGET receives in it")
    laws_table = sub.add_parser("laws", help="print the table of laws, from the laws' own docstrings and marks")
    laws_table.add_argument("--write", metavar="FILE", help=f"replace the table between {laws.START} and "
                                                            f"{laws.END} in FILE instead (docs/laws.md)")
    table = sub.add_parser("matrix", help="the conformance table: deployment columns x features, each cell "
                                          "measured by the laws (docs/conformance.md)")
    table.add_argument("--from", dest="source", metavar="REPORT.json",
                       help="read a previous run's --json report instead of running the laws")
    table.add_argument("--write", metavar="FILE", help=f"replace the table between {conformance.START} and "
                                                       f"{conformance.END} in FILE instead (docs/conformance.md)")
    table.add_argument("--json", metavar="PATH", help="write the run's records (what --from reads)")
    table.add_argument("-n", "--workers", default="1", help="parallel workers: a number or 'auto'")
    vectors = sub.add_parser("export", help="write golden vectors (npz, JSON, manifest.json) for other languages, "
                                            "or ONNX backend tests")
    vectors.add_argument("directory", metavar="DIR", help="where to write them (created if missing)")
    vectors.add_argument("--dtypes", default=",".join(export.DTYPES), type=_export_dtypes,
                         help=f"comma-separated, from {','.join(export.DTYPES)} (default both)")
    vectors.add_argument("--format", default="vectors", choices=export.FORMATS,
                         help="vectors: npz and JSON (default); onnx: ONNX backend-test directories "
                              "(model.onnx, test_data_set_0/*.pb)")
    return parser


def _precision(value: str) -> str:
    try:
        return precision(value).name
    except PrecisionError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _export_dtypes(value: str) -> list[str]:
    dtypes = list(dict.fromkeys(value.split(",")))
    unknown = sorted(set(dtypes) - set(export.DTYPES))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown dtype {unknown[0]!r}; choose from {','.join(export.DTYPES)}")
    return dtypes


def _shard(value: str) -> str:
    from lstm_verify.shard import parse_shard

    try:
        parse_shard(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


_STOPPED = re.compile(r"^! (?:xdist\.dsession\.)?Interrupted: (.*) !$")
"""xdist's line when a worker stopped the session (:func:`lstm_verify.pytest_plugin.pytest_runtestloop`)."""


def _usage_error(output: str) -> str:
    """pytest's usage error in ``output`` (its last ``ERROR:`` line and those after it), else the
    reason xdist stopped the session (a worker where the TARGET does not load), else its last line."""
    lines = output.rstrip().splitlines()
    errors = [i for i, line in enumerate(lines) if line.startswith("ERROR: ")]
    if errors:
        return "lstm-verify: " + "\n".join(lines[errors[-1]:]).removeprefix("ERROR: ")
    stopped = [m[1] for m in map(_STOPPED.match, lines) if m]
    return f"lstm-verify: {stopped[-1]}" if stopped else "\n".join(lines[-1:])


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "merge":
        return _merge(args)
    if args.command == "bench":
        return bench.command(args)
    if args.command == "layouts":
        print(layout_table())
        return 0
    if args.command == "laws":
        if args.write:
            laws.write(args.write)
        else:
            print(laws.render())
        return 0
    if args.command == "matrix":
        return _matrix(args)
    return _export(args) if args.command == "export" else _check(args)


def _matrix(args: argparse.Namespace) -> int:
    """Exit 0 with the table printed or written, 2 when the report cannot be read, 3 when no
    check of the table's laws ran."""
    from lstm_verify.config import options_from_env
    from lstm_verify.runner import run_suite

    if args.source:
        try:
            results = conformance.read(args.source)
        except (OSError, ValueError, TypeError) as exc:
            print(f"lstm-verify: cannot read {args.source}: {exc}", file=sys.stderr)
            return 2
    else:
        options = options_from_env(adapters=",".join(conformance.COLUMNS))
        results = run_suite(options, args.workers, pytest_extra=("-k", " or ".join(conformance.LAWS)))[1]
        _write_reports(argparse.Namespace(json=args.json, markdown=None), results)
    if args.write:
        conformance.write(args.write, results)
    else:
        print(conformance.render(results))
    return 0 if any(r.status in CHECKED for r in results) else NOTHING_CHECKED


def _export(args: argparse.Namespace) -> int:
    try:
        export.export(args.directory, args.dtypes, args.format)
    except export.FormatClash as exc:
        print(f"lstm-verify: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"lstm-verify: cannot write to {args.directory}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"lstm-verify: --format onnx needs the onnx extra: {exc}", file=sys.stderr)
        return 2
    what = "npz and JSON" if args.format == "vectors" else "ONNX backend-test directories"
    print(f"wrote {len(export.CASES)} cases x {len(args.dtypes)} dtypes ({what}) and manifest.json "
          f"to {args.directory}")
    return 0


def _merge(args: argparse.Namespace) -> int:
    """Exit 0 or 1 as the unsharded run would have, 2 when the reports are not one run's shards."""
    from lstm_verify.report.text import failures, matrix, summary
    from lstm_verify.results import Result
    from lstm_verify.shard import MergeError, merge

    try:
        results = [Result(**record) for record in merge(args.reports)]
    except MergeError as exc:
        print(f"lstm-verify: {exc}", file=sys.stderr)
        return 2
    print("\n\n".join(filter(None, [matrix(results), failures(results)])))
    print(summary(results))
    _write_reports(args, results)
    return exit_status(results)


def _write_reports(args: argparse.Namespace, results: list) -> None:
    """Write the ``--json`` and ``--markdown`` reports asked for."""
    from lstm_verify.report.text import markdown

    if args.json:
        with open(args.json, "w") as fh:
            json.dump([r.as_dict() for r in results], fh, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(markdown(results))


def _check(args: argparse.Namespace) -> int:
    from lstm_verify.report.text import Progress, expected_failures, failures, matrix, summary
    from lstm_verify.runner import run_suite, worker_count
    from lstm_verify.shard import load_costs

    try:
        check_target_arguments(args)  # a wrong TARGET is one line and exit 2 here, before pytest starts
        entries = read_expected(args.xfail) if args.xfail else []
        cache = use_cache_dir(args.cache_dir)
    except (TargetError, ExpectedError, CacheDirError) as exc:
        print(f"lstm-verify: {exc}", file=sys.stderr)
        return 2
    options = options_from_args(args, impl=resolve(args.target) if args.target else None, cache_dir=str(cache))
    start = time.perf_counter()
    progress = None if args.quiet else Progress(load_costs(), worker_count(args.workers))
    code, results, output = run_suite(options, args.workers, progress, ("-k", args.select) if args.select else (),
                                      plan=progress.plan if progress else None)
    if not results:  # a TARGET that does not import, or names nothing runnable, ends here (in one line)
        print(_usage_error(output) or f"pytest exited with {code}", file=sys.stderr)
        return 2
    print(matrix(results))
    for block in (expected_failures(results), failures(results)):
        if block:
            print("\n" + block)
    for key in [] if args.shard else unmatched(entries, [(r.property, r.implementation) for r in results]):
        print(f"warning: expected-failure entry {key} matches no check", file=sys.stderr)
    print(summary(results))
    ran = [r for r in results if not r.stored]
    compiling = sum(r.compile_seconds for r in ran)
    print(f"wall time {time.perf_counter() - start:.1f} s with -n {args.workers}"
          + (f" ({sum(r.seconds for r in ran):.0f} s of checks, {compiling:.0f} s of it JAX compiling)"
             if compiling else ""))
    if args.html:
        from lstm_verify.report.html import write_report

        print(f"HTML report: {write_report(results, args.html, options)}")
    _write_reports(args, results)
    status = exit_status(results, args.strict_xfails)
    named = [] if args.target or args.adapters.strip() == "all" else [a.strip() for a in args.adapters.split(",")]
    missing = unchecked(results, named)
    for name, reason in missing.items():
        print(f"lstm-verify: {name}: {reason}; nothing was checked", file=sys.stderr)
    if status == NOTHING_CHECKED:
        print("lstm-verify: nothing was checked: every check skipped (the reasons are above)", file=sys.stderr)
    return status or (NOTHING_CHECKED if missing else 0)


def run() -> NoReturn:
    """The ``lstm-verify`` command: :func:`main`, its output flushed, then the process ends without
    tearing down the libraries it loaded (:func:`lstm_verify.guard.end_without_teardown`)."""
    end_without_teardown(main())


if __name__ == "__main__":
    run()
