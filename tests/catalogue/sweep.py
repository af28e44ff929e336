"""Run ``lstm-verify check`` on every catalogue entry, as a user would, and print the kill
rate and the time per check as a Markdown table (for a defect, the laws it must break that
failed, and how many more did): ``python -m tests.catalogue.sweep [-n N] [--match TEXT]``.

Not part of the test suite (it runs the whole suite once per entry); its output is in the
README."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time

from tests.catalogue import CATALOGUE


def failed_laws(expected: tuple[str, ...], failed: list[str], stopped: set[str]) -> str:
    """The failed laws for the table: those the entry must break (the rest counted), or every one
    when it was to break none. A training law the entry must break may instead have stopped,
    undecided, once another law failed it (``lstm_verify/board.py``): the verdict was decided."""
    if not expected:
        return ", ".join(failed) or "-"
    named = [law for law in failed if law in expected] + [f"{law} (stopped)" for law in sorted(stopped)
                                                          if law in expected and law not in failed]
    more = len([law for law in failed if law not in expected])
    return ", ".join(named) + (f" + {more} more" if more else "")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", "--workers", default="2")
    parser.add_argument("--profile", default="ci")
    parser.add_argument("--match", default="", help="only the entries whose target contains this")
    args = parser.parse_args()
    entries = [e for e in CATALOGUE if args.match in e.target]
    rows, killed, passed = [], 0, 0
    for entry in entries:
        start = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "lstm_verify.cli", "check", entry.spec, "--kind", entry.kind,
                              "--dtypes", entry.dtype, "--profile", args.profile, "-n", args.workers, "--quiet",
                              "--timeout", "10", *(["--layout", entry.layout] if entry.layout else [])],
                             capture_output=True, text=True)
        seconds = time.perf_counter() - start
        failed = sorted(set(re.findall(r"^FAILED (\w+)\[", run.stdout, re.M)))
        stopped = {law for line in re.findall(r"^skipped: training stopped .*$", run.stdout, re.M)
                   for law in re.findall(r"(\w+)\[", line.rpartition("(")[2])}
        want = 1 if entry.breaks else 0
        ok = run.returncode == want and set(entry.breaks) <= set(failed) | stopped
        killed += bool(entry.breaks) and ok
        passed += (not entry.breaks) and ok
        rows.append(f"| `{entry.target}` | {entry.kind} | {entry.dtype} | {run.returncode} | "
                    f"{failed_laws(entry.breaks, failed, stopped)} | {'yes' if ok else 'NO'} | {seconds:.0f} s |")
        print(rows[-1], flush=True)
    defective = sum(bool(e.breaks) for e in entries)
    print(f"\nkilled {killed} of {defective} defective; passed {passed} of {len(entries) - defective} correct")
    return 0 if killed == defective and passed == len(entries) - defective else 1


if __name__ == "__main__":
    sys.exit(main())
