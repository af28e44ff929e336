"""Expected failures kept by an adopter: a text file of ``property-id: reason`` lines.

A property id is a property name (``test_gate_ranges``, every implementation) or a test
id (``test_gate_ranges[my_cell-float32]``). The reason is required. Blank lines and lines
starting with ``#`` are ignored.
"""

from __future__ import annotations

from pathlib import Path


class XfailError(ValueError):
    """The expected-failures file is malformed; the message names the line."""


def read_xfails(path: str | Path) -> dict[str, str]:
    """``{property-id: reason}`` from ``path``."""
    entries: dict[str, str] = {}
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise XfailError(f"cannot read expected-failures file {path}: {exc.strerror}") from None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, reason = line.partition(":")
        if not sep or not reason.strip() or not key.strip():
            raise XfailError(f"{path}:{number}: expected 'property-id: reason' with a reason, got {line!r}")
        entries[key.strip()] = reason.strip()
    return entries


def match(entries: dict[str, str], prop: str, impl_id: str) -> str | None:
    """The reason an entry gives for ``prop`` on ``impl_id``, or None."""
    return entries.get(f"{prop}[{impl_id}]") or entries.get(prop)


def unmatched(entries: dict[str, str], checks: list[tuple[str, str]]) -> list[str]:
    """The entries that match none of the ``(property, implementation id)`` checks that ran."""
    used = {key for prop, impl_id in checks for key in (prop, f"{prop}[{impl_id}]") if key in entries}
    return sorted(set(entries) - used)
