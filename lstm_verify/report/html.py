"""The HTML conformance report: ``lstm-verify check ... --html DIR`` and ``pytest --lstm-html DIR``.

``DIR/index.html`` is one page that needs no network (inline style, one inline script that
counts the figures that loaded, no external resource): the run's configuration, the
properties x implementations matrix in colour with counts, each failure with its law, what
came, the counterexample and the reproducer (:func:`lstm_verify.report.text.failures`), each skip
and expected failure with its reason, and the figures (:mod:`lstm_verify.figures`), written
beside it as PNG (shown) and SVG (linked).
"""

from __future__ import annotations

import datetime
import html
import time
from pathlib import Path
from typing import Iterable

import pytest

from lstm_verify.adapters import BUILTIN, Adapter, builtin_adapter
from lstm_verify.config import BY_NAME, PROFILES, Options
from lstm_verify.implementation import Implementation
from lstm_verify.report.text import LOOSE, failures, loose_share, mark, stored_note, summary
from lstm_verify.results import FAILING, MARKS, STATUSES, Collector, Result, table
from lstm_verify.targets import target_adapters

COLOURS = {"passed": "#c8e6c9", "failed": "#ef9a9a", "crashed": "#e57373", "skipped": "#eeeeee",
           "xfailed": "#ffe082", "xpassed": "#ffcc80"}
STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 12px; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; vertical-align: top; }
table.matrix td { text-align: center; min-width: 3.2em; }
table.matrix th.impl { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; }
table.matrix tr.count td { font-weight: bold; }
pre { background: #f7f7f7; border: 1px solid #ddd; padding: .6em; white-space: pre-wrap; font-size: 12px; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 12px; color: #444; max-width: 60em; }
.summary { font-weight: bold; }
""" + "".join(f"td.{s} {{ background: {c}; }}\n" for s, c in COLOURS.items())
SCRIPT = """
window.addEventListener("load", function () {
  var images = document.querySelectorAll("figure img");
  var loaded = Array.prototype.filter.call(images, function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute("data-figures", images.length);
  document.body.setAttribute("data-figures-loaded", loaded.length);
});
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def adapters_of(results: list[Result], options: Options) -> list[Adapter]:
    """The adapters behind the results: built-in ones by name, the rest is the run's TARGET."""
    if options.impl:
        return target_adapters(options.impl, options.kind, options.layout, via=options.via, runtime=options.runtime,
                               device=options.device, variant=options.variant)
    names = dict.fromkeys(r.implementation.rsplit("-", 1)[0] for r in results)
    return [builtin_adapter(n) for n in names if n in BUILTIN]


def _configuration(results: list[Result], options: Options, adapters: list[Adapter]) -> str:
    profile = str(options.profile)
    settings = PROFILES.get(profile, {})
    seed = ("derandomized: hypothesis derives each test's seed from the test, so a rerun draws the same examples"
            if settings.get("derandomize") else "random: a failure prints the seed and hypothesis replays it")
    sizes = sorted({r.sizes for r in results if r.sizes})
    ran = [r for r in results if not r.stored]
    compiling = sum(r.compile_seconds for r in ran)
    rows = [("profile", f"{profile} (up to {settings.get('max_examples', '?')} hypothesis examples per check)"),
            ("seed", seed),
            ("dtypes (precision)", ", ".join(dict.fromkeys(r.implementation.rsplit("-", 1)[1] for r in results))),
            ("sizes covered", "; ".join(sizes) if sizes else "not recorded by this run's results"),
            ("time limit per call", f"{float(options.timeout):g} s"),
            ("expected failures file", options.xfail or "none"),
            ("hypothesis examples", str(sum(r.examples for r in results))),
            ("check time (sum over the checks run)", f"{sum(r.seconds for r in ran):.1f} s"
             + (f", {compiling:.1f} s of it JAX compiling (tracing, lowering, XLA)" if compiling else ""))]
    if options.impl:
        rows.insert(0, ("target", f"{options.impl} (kind {options.kind})"))
    shown = {"impl", "kind", "profile", "timeout", "xfail"}
    other = " ".join(f"{BY_NAME[k].pytest_flag} {v}" for k, v in vars(options).items()
                     if k not in shown and v not in (None, "", False))
    if other:
        rows.append(("other options", other))
    table = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    libs = "".join(f"<tr><td>{_e(a.name)}</td><td>{_e(a.unavailable() or a.version())}</td>"
                   f"<td>{_e(a.layout.name if hasattr(a, 'layout') else '-')}</td></tr>" for a in adapters)
    return (f"<table>{table}</table><h3>Implementations</h3><table><tr><th>adapter</th><th>library</th>"
            f"<th>layout</th></tr>{libs}</table>")


def _anchor(r: Result) -> str:
    return "f-" + "".join(c if c.isalnum() else "-" for c in f"{r.property}-{r.implementation}")


def _matrix(results: list[Result]) -> str:
    impls, props, cell = table(results)
    head = "<tr><th>property</th>" + "".join(f'<th class="impl">{_e(i)}</th>' for i in impls) + "</tr>"
    rows = []
    for p in props:
        tds = []
        for i in impls:
            r = cell.get((p, i))
            if r is None:
                tds.append("<td>-</td>")
                continue
            shown = _e(mark(r))
            text = f'<a href="#{_anchor(r)}">{shown}</a>' if r.status in FAILING else shown
            note = "; ".join(filter(None, [f"{r.loose} of {r.compared} compared values had a loose bound" if r.loose
                                           else "", f"stored: measured {r.stored}" if r.stored else ""]))
            tds.append(f'<td class="{_e(r.status)}" title="{_e(r.reason or note)}">{text}</td>')
        rows.append(f"<tr><th>{_e(p)}</th>{''.join(tds)}</tr>")
    for status in STATUSES:
        counts = [sum(1 for p in props if (p, i) in cell and cell[p, i].status == status) for i in impls]
        rows.append(f'<tr class="count"><th>{status}</th>' + "".join(
            f'<td class="{status if n else ""}">{n}</td>' for n in counts) + "</tr>")
    rows.append('<tr class="count"><th>examples</th>' + "".join(
        f"<td>{sum(cell[p, i].examples for p in props if (p, i) in cell)}</td>" for i in impls) + "</tr>")
    rows.append('<tr class="count"><th>loose</th>' + "".join(
        f"<td>{_e(loose_share([cell[p, i] for p in props if (p, i) in cell]))}</td>" for i in impls) + "</tr>")
    return f'<table class="matrix" id="matrix">{head}{"".join(rows)}</table>'


def _failures(results: list[Result]) -> str:
    failed = [r for r in results if r.status in FAILING]
    if not failed:
        return "<p>None.</p>"
    return "".join(f'<section id="{_anchor(r)}" class="failure"><pre>'
                   f"{_e(failures([r]) or f'{r.status.upper()} {r.property}[{r.implementation}]: {r.reason}')}"
                   f"</pre></section>" for r in failed)


def _reasons(results: list[Result]) -> str:
    rows = sorted((r for r in results if r.status in ("skipped", "xfailed", "xpassed")),
                  key=lambda r: (r.status, r.reason, r.property, r.implementation))
    if not rows:
        return "<p>None.</p>"
    body = "".join(f'<tr><td class="{r.status}">{_e(MARKS[r.status])}</td><td>{_e(r.property)}'
                   f"[{_e(r.implementation)}]</td><td>{_e(r.reason)}</td><td>{_e(r.observed)}</td></tr>"
                   for r in rows)
    return (f'<table id="reasons"><tr><th>status</th><th>check</th><th>reason</th>'
            f'<th>what happened (expected failures)</th></tr>{body}</table>')


def _figures(results: list[Result], adapters: list[Adapter], options: Options, directory: Path) -> tuple[str, float]:
    start = time.perf_counter()
    try:
        from lstm_verify import figures
    except ImportError as exc:
        return f"<p>No figures: {_e(exc)} (pip install 'lstm-verify[report]').</p>", 0.0
    limit = float(options.timeout)
    dtypes: dict[str, list[str]] = {}
    for r in results:
        name, dtype = r.implementation.rsplit("-", 1)
        dtypes.setdefault(name, []).append(dtype)
    impls = [Implementation(a, "float32" if "float32" in dtypes[a.name] else dtypes[a.name][0], limit)
             for a in adapters if a.name in dtypes]  # one panel per adapter: JAX compiles each (~1-3 s)
    with_gradients = [i for i in impls if i.capabilities.gradients and not i.skip_reason()]
    made = [figures.bound_figure([i for i in impls if not i.skip_reason()], directory),
            figures.success_figure(directory)]
    if with_gradients:
        made.insert(0, figures.gradient_figure(with_gradients, directory))
    body = "".join(f'<figure id="{f.name}"><h3>{_e(f.title)}</h3><a href="{f.name}.svg">'
                   f'<img src="{f.name}.png" alt="{_e(f.title)}"></a><figcaption>{_e(f.caption)} '
                   f'<a href="{f.name}.svg">SVG</a></figcaption></figure>' for f in made)
    if not with_gradients:
        body = "<p>No implementation in this run has gradients: no error-flow figure.</p>" + body
    return body, time.perf_counter() - start


def write_report(results: list[Result], directory: str | Path, options: Options,
                 adapters: Iterable[Adapter] | None = None) -> Path:
    """Write ``directory``/index.html and its figures for ``results`` of a run with the plugin
    ``options``; ``adapters`` default to those named by the
    results. Returns the page's path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    results = sorted(results, key=lambda r: (r.property, r.implementation))
    adapters = list(adapters) if adapters is not None else adapters_of(results, options)
    figures, seconds = _figures(results, adapters, options, directory)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>lstm-verify report</title>
<style>{STYLE}</style><script>{SCRIPT}</script></head>
<body>
<h1>lstm-verify conformance report</h1>
<p class="summary">{_e(summary(results))}</p>
<p>Written {now}. Each cell is one law (a pytest test in <code>properties/</code>) run on one implementation;
hover a cell for its reason, click a failure for its details.</p>
<h2>Configuration</h2>{_configuration(results, options, adapters)}
<h2>Properties &times; implementations</h2>{_matrix(results)}
<p>The <em>loose</em> row: {_e(LOOSE.removeprefix("loose: "))}.</p>{f"<p>{_e(stored_note(results))}</p>" if stored_note(results) else ""}
<h2>Failures</h2>{_failures(results)}
<h2>Skips and expected failures</h2>{_reasons(results)}
<h2>Figures</h2><p>Drawn by the report in {seconds:.1f} s.</p>{figures}
</body></html>
"""
    path = directory / "index.html"
    path.write_text(page)
    return path


class HtmlReport(Collector):
    """The pytest plugin's ``--lstm-html DIR``: collects the results as the runner does and
    writes the report at the end of the session (in the controller under xdist)."""

    def __init__(self, directory: str, options: Options, adapters: list[Adapter]) -> None:
        super().__init__(None)
        self.directory, self.options, self.adapters = directory, options, adapters

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.results:
            path = write_report(list(self.results.values()), self.directory, self.options, self.adapters)
            terminalreporter.write_line(f"lstm-verify: HTML report {path}")
