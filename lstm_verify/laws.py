"""The table of laws, rendered from the laws themselves (``lstm-verify laws``).

Each row is one property of :mod:`properties`: its name, its chapter (the module), the first
paragraph of its docstring (the law) and what it needs to run (capabilities from its ``requires``
marks, a profile from its ``profiles`` mark). ``docs/laws.md`` holds the table between
:data:`START` and :data:`END`; ``lstm-verify laws --write docs/laws.md`` regenerates it there."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Callable

import properties

START, END = "<!-- laws:table -->", "<!-- /laws:table -->"


def statement(prop: Callable) -> str:
    """The law: the first paragraph of ``prop``'s docstring, on one line."""
    first = " ".join(inspect.getdoc(prop).split("\n\n")[0].split())
    return re.sub(r"(?::\w+:)?``?([^`]+)``?", r"`\1`", first)  # Sphinx roles and literals as Markdown code


def needs(prop: Callable) -> str:
    """What ``prop`` needs to run: its capabilities, and the profiles it is limited to."""
    items = [f"`{c}`" for c in properties.requirements(prop)]
    items += [f"{' or '.join(m.args)} profile" for m in getattr(prop, "pytestmark", []) if m.name == "profiles"]
    return ", ".join(items) or "nothing"


def render() -> str:
    """The Markdown table of every law, in :func:`properties.collect` order; each chapter links to
    its module, relative to ``docs/``."""
    rows = ["| law | chapter | statement | needs |", "| --- | --- | --- | --- |"]
    for name, prop in properties.collect().items():
        module = prop.__module__.rpartition(".")[2]
        cells = (f"`{name}`", f"[{module}](../properties/{module}.py)", statement(prop), needs(prop))
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows)


def replace_table(text: str, table: str, start: str = START, end: str = END) -> str:
    """``text`` with what lies between ``start`` and ``end`` (the laws' markers by default) replaced
    by ``table``."""
    pattern = re.compile(f"{re.escape(start)}\n.*?{re.escape(end)}", re.S)
    if not pattern.search(text):
        raise ValueError(f"no {start} ... {end} block")
    return pattern.sub(lambda _: f"{start}\n{table}\n{end}", text, count=1)


def write(path: str | Path) -> None:
    """Regenerate the table inside the file at ``path``."""
    path = Path(path)
    path.write_text(replace_table(path.read_text(), render()))
