"""The README and the user guide in docs/, run (sybil): every Python block is executed, every
shell block runs unless a ``<!-- skip: next "reason" -->`` says why not, every C block compiles,
every relative link points at a file and heading that exist, and the table of laws is the one the
laws render.

A page's blocks run in order in one namespace, Python blocks in a temporary folder, shell
blocks in the repository (``# exit N`` closing a shell block's last line: the status it
must end with). Hidden checks are ``<!-- invisible-code-block: python ... -->`` blocks calling
:func:`passes` or :func:`adapter_passes` on what the page's examples defined."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from unittest import SkipTest

import pytest
from sybil import Sybil
from sybil.example import NotEvaluated
from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser, SkipParser

from lstm_verify import laws
from lstm_verify.adapters.base import Adapter
from lstm_verify.cli import main
from lstm_verify.config import options_from_env
from lstm_verify.expected import read_expected
from lstm_verify.results import Result
from lstm_verify.runner import run_suite
from lstm_verify.targets import adapters_for

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LAWS = ("test_gate_order", "test_step_agrees_with_reference",
        "test_sequence_agrees_with_reference", "test_gradients_agree_with_bptt")
"""Cheap, and between them they touch the layout, the step, the sequence and the gradients."""
LANGUAGES = {"python": "run", "bash": "run unless skipped", "c": "compiled",
             "toml": "read as an expected-failures file", "text": "output, not code",
             "yaml": "configuration for another tool: not run"}
FENCE = re.compile(r"^ *```(\S*)", re.M)


def run_laws(adapters: list[Adapter], names: tuple[str, ...]) -> list[Result]:
    """``names`` on ``adapters`` in this process, float32, ``dev`` profile."""
    code, results, output = run_suite(options_from_env(dtypes="float32", profile="dev"),
                                      pytest_extra=("-k", " or ".join(names)), adapters=adapters)
    assert results, output[-2000:]
    return results


def assert_passed(results: list[Result], must_pass: tuple[str, ...]) -> None:
    failed = [(r.property, r.implementation, r.reason) for r in results if r.status not in ("passed", "skipped")]
    assert not failed, failed
    passed = {r.property for r in results if r.status == "passed"}
    assert set(must_pass) <= passed, {r.property: (r.status, r.reason) for r in results}


def passes(target: object, kind: str, *more: str, runtime: str | None = None) -> None:
    """A page's example TARGET passes the cheap laws (those its kind can serve) and ``more``."""
    results = run_laws(adapters_for(target, kind, None, runtime=runtime), LAWS + more)
    served = [law for law in LAWS if law != "test_gradients_agree_with_bptt" or kind in ("torch-cell", "torch-lstm",
                                                                                          "jax-step", "tf-step")]
    if kind == "onnx":  # an exported nn.LSTM node: no step of its own
        served = ["test_sequence_agrees_with_reference"]
    assert_passed(results, (*served, *more))


def adapter_passes(cls: type[Adapter]) -> None:
    """A page's example adapter passes the cheap laws its capabilities allow."""
    adapter = cls()
    results = run_laws([adapter], LAWS)
    assert_passed(results, LAWS if adapter.capabilities.gradients else LAWS[:3])


def run_shell(example) -> None:
    """Run a shell block with bash in the repository; its last line's ``# exit N`` is the status
    it must end with (default 0)."""
    source = example.parsed
    expected = re.search(r"# exit (\d+)", source.rstrip().splitlines()[-1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
    run = subprocess.run(["bash", "-o", "pipefail", "-c", source], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == int(expected[1] if expected else 0), (source, run.stdout[-3000:], run.stderr[-3000:])


def compile_c(example) -> None:
    """A C block compiles (standard headers included), where a C compiler is installed."""
    compiler = shutil.which("cc")
    if compiler is None:
        raise SkipTest("no C compiler")
    run = subprocess.run([compiler, "-fsyntax-only", "-include", "math.h", "-include", "stddef.h", "-x", "c", "-"],
                         input=example.parsed, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def read_toml(example) -> None:
    """A TOML block is an expected-failures file the kit accepts (``--xfail FILE``)."""
    path = Path(example.namespace.get("__file__", "x")).parent.parent / "expected.toml"
    path.write_text(example.parsed)
    assert read_expected(path), "an expected-failures block with no entry"


SYBIL = Sybil(parsers=[PythonCodeBlockParser(), CodeBlockParser("bash", run_shell), CodeBlockParser("c", compile_c),
                       CodeBlockParser("toml", read_toml), SkipParser()])


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_block_of_the_page_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    document = SYBIL.parse(page)
    document.namespace.update(passes=passes, adapter_passes=adapter_passes, run_laws=run_laws,
                              assert_passed=assert_passed, __name__="docs_example",
                              __file__=str(tmp_path / "benchmarks" / "example.py"))
    for example in document.examples():
        try:
            example.evaluate()
        except (SkipTest, NotEvaluated):
            continue
        except BaseException as exc:
            raise AssertionError(f"{page.relative_to(ROOT)}, line {example.line}: {exc!r}") from exc


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_block_is_run_or_says_why_not(page):
    """A fenced block is Python or a shell (run), C (compiled), output or another tool's file;
    a skipped block gives its reason."""
    text = page.read_text()
    languages = FENCE.findall(text)[::2]  # opening fences only
    assert set(languages) <= set(LANGUAGES), sorted(set(languages) - set(LANGUAGES))
    assert not re.search(r"<!-- skip: next -->", text), "a skipped block needs a reason"


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {_anchor(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_at_a_file_and_heading(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"\w+://", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists() or (anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved)):
            broken.append(target)
    assert not broken, broken


def test_every_page_of_the_guide_is_linked_from_its_index():
    index = (ROOT / "docs" / "index.md").read_text()
    assert [p.name for p in PAGES[1:] if f"({p.name})" not in index and p.name != "index.md"] == []


def test_laws_command_prints_the_table_and_writes_it_between_the_markers(tmp_path, capsys):
    assert main(["laws"]) == 0
    assert capsys.readouterr().out.strip() == laws.render()
    page = tmp_path / "laws.md"
    page.write_text(f"before\n{laws.START}\nstale\n{laws.END}\nafter\n")
    assert main(["laws", "--write", str(page)]) == 0
    assert page.read_text() == f"before\n{laws.START}\n{laws.render()}\n{laws.END}\nafter\n"


def test_the_laws_page_holds_the_table_the_laws_render():
    page = ROOT / "docs" / "laws.md"
    assert laws.replace_table(page.read_text(), laws.render()) == page.read_text(), (
        "docs/laws.md is out of date: regenerate it with `lstm-verify laws --write docs/laws.md`")
