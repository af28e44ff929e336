"""Expected failures that are exact: each names the law, what fails in it, and why.

An :class:`Expected` entry comes from an adapter's ``known_differences`` (a library's measured
difference, with its evidence) or from an adopter's file (``--xfail FILE``, TOML)::

    [[expected]]
    law = "test_clip_agrees_with_reference"        # the property
    implementation = "my_cell-float32"             # optional: one implementation id (default: every one)
    match = 'h\\[[0-9, ]+\\]=.*but should be'        # a regular expression searched in the violation
    reason = "clips gates only (upstream issue #123)"
    versions = "onnxruntime==1.32.0"               # optional: where it was measured

``match`` is searched in each violation of the law (the one-line message of :mod:`lstm_verify.checks`,
with its implementation and case); ``raises`` instead names an exception the law ends with
(``"KeyError"``, or ``"KeyError: Y_c"``: type, then a pattern on its message). A violation that
matches is recorded and the law goes on, so a known difference carves out its part of a law only:
the rest of the law is still checked. The check is then *xfailed*, showing what actually failed
beside the stated reason; a violation no entry matches fails it as usual; a law that breaks none of
its ``always`` entries is *xpassed* (``--strict-xfails`` fails the run on it), while an entry
declared ``always = false`` (a difference only some inputs show) lets such a run pass. An entry whose ``versions`` do not
hold for the installed library is not applied, and a failure of its law says so.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from packaging.requirements import InvalidRequirement, Requirement

from lstm_verify.reference import Variant


class ExpectedError(ValueError):
    """An expected-failures entry or file is malformed; the message names it."""


@dataclass(frozen=True)
class Expected:
    """One expected failure of one law."""

    law: str
    reason: str
    match: str = ""
    """A regular expression searched in the law's violation messages."""
    raises: str = ""
    """Or: the exception the law ends with, ``Type`` or ``Type: pattern``."""
    implementation: str = ""
    """An implementation id (``name-dtype``); empty: every implementation it is declared for."""
    versions: str = ""
    """A requirement such as ``onnx==1.23.2`` or ``onnxruntime>=1.30,<1.33``: measured there."""
    always: bool = True
    """False for a difference only some inputs show (an overflow past a threshold that a run's
    examples may not reach): a run that does not meet it passes, where an ``always`` entry that
    does not happen is an unexpected pass."""
    computes: Variant | None = None
    """The cell the implementation computes instead, where the difference is one (a converter's cell
    clip): a check outside a law's run (``lstm-verify bench``) holds an output it explains to that cell."""

    def __post_init__(self) -> None:
        where = f"expected failure of {self.law or '?'}"
        if not self.law.startswith("test_") or not self.reason.strip():
            raise ExpectedError(f"{where}: an entry needs a law (test_...) and a reason")
        if bool(self.match) == bool(self.raises):
            raise ExpectedError(f"{where}: say what fails with exactly one of match (a pattern on the violation) "
                                f"or raises (an exception type)")
        for pattern in (self.match, self.raises.partition(":")[2].strip()):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ExpectedError(f"{where}: {pattern!r} is not a regular expression: {exc}") from None
        if self.versions:
            try:
                Requirement(self.versions)
            except InvalidRequirement as exc:
                raise ExpectedError(f"{where}: versions {self.versions!r} is not one requirement (one library, "
                                    f"e.g. 'onnxruntime>=1.20,<1.33'): {str(exc).splitlines()[0]}") from None

    def applies_to(self, law: str, implementation: str) -> bool:
        return self.law == law and self.implementation in ("", implementation)

    def version_mismatch(self) -> str:
        """Why the installed library is outside ``versions`` ('' when it is inside, or none is given)."""
        if not self.versions:
            return ""
        requirement = Requirement(self.versions)
        try:
            installed = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            return f"declared for {self.versions}, and {requirement.name} is not installed"
        if requirement.specifier.contains(installed, prereleases=True):
            return ""
        return f"declared for {self.versions}, installed {requirement.name} {installed}"

    def matches_violation(self, message: str) -> bool:
        return bool(self.match) and re.search(self.match, message) is not None

    def in_force(self, law: str, implementation: str) -> bool:
        """Whether this entry holds for ``law`` and ``implementation`` at the installed versions (a
        check outside a law's run: ``lstm-verify bench``)."""
        return self.applies_to(law, implementation) and not self.version_mismatch()

    def matches_exception(self, exc: BaseException) -> bool:
        if not self.raises:
            return False
        name, _, pattern = self.raises.partition(":")
        named = any(cls.__name__ == name.strip() for cls in type(exc).__mro__)
        return named and re.search(pattern.strip(), str(exc)) is not None

    def describe(self) -> str:
        what = f"match {self.match!r}" if self.match else f"raises {self.raises!r}"
        return f"{self.law}{f'[{self.implementation}]' if self.implementation else ''} ({what})"


def read_expected(path: str | Path) -> list[Expected]:
    """The ``[[expected]]`` entries of a TOML file."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ExpectedError(f"cannot read expected-failures file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        hint = (" (the 'property-id: reason' lines of earlier versions must now say what fails: "
                "see docs/checking.md, 'Expected failures')") if ":" in text and "[[expected]]" not in text else ""
        raise ExpectedError(f"{path}: not TOML: {exc}{hint}") from None
    entries = data.get("expected", [])
    unknown = sorted(set(data) - {"expected"})
    if unknown or not isinstance(entries, list):
        raise ExpectedError(f"{path}: expected only [[expected]] tables, found {', '.join(unknown) or 'expected'}")
    known = {"law", "reason", "match", "raises", "implementation", "versions", "always"}
    out = []
    for number, entry in enumerate(entries, 1):
        extra = sorted(set(entry) - known)
        if extra:
            raise ExpectedError(f"{path}: entry {number}: unknown keys {', '.join(extra)}; known: {', '.join(sorted(known))}")
        try:
            if not isinstance(entry.get("always", True), bool):
                raise ExpectedError(f"always must be true or false, got {entry['always']!r}")
            out.append(Expected(**{"law": "", "reason": "", **{k: v if k == "always" else str(v)
                                                               for k, v in entry.items()}}))
        except ExpectedError as exc:
            raise ExpectedError(f"{path}: entry {number}: {exc}") from None
    return out


def unmatched(entries: Iterable[Expected], checks: Iterable[tuple[str, str]]) -> list[str]:
    """The entries that apply to none of the ``(law, implementation id)`` checks that ran."""
    checks = list(checks)
    return [e.describe() for e in entries if not any(e.applies_to(law, impl) for law, impl in checks)]
