"""The HTML report, written as a user writes it (``lstm-verify check --html``, ``pytest --lstm-html``)
for small runs, then opened offline in headless Chromium: the page loads, the matrix is there
and every figure rendered."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.catalogue import HERE

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND"]  # no host resolves: the page must need no network


@pytest.fixture(scope="module")
def plugin_report(tmp_path_factory) -> Path:
    """numpy in float64 through three laws (two pass, one skips): the pytest plugin's report."""
    out = tmp_path_factory.mktemp("plugin-report")
    run = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", "properties", "-p", "no:xdist", "-q",
                          "-k", "gate_ranges or state_shapes or unbatched", "--lstm-adapters", "numpy",
                          "--lstm-dtypes", "float64", "--lstm-profile", "dev", "--lstm-html", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"lstm-verify: HTML report {out / 'index.html'}" in run.stdout
    return out


@pytest.fixture(scope="module")
def cli_report(tmp_path_factory) -> Path:
    """A hard sigmoid through the whole suite from the command line: failures and skips."""
    out = tmp_path_factory.mktemp("cli-report")
    run = subprocess.run([sys.executable, "-m", "lstm_verify.cli", "check", f"{HERE}/numpy_steps.py:hard_sigmoid",
                          "--kind", "numpy-step", "--dtypes", "float64", "--profile", "dev", "--quiet",
                          "--html", str(out)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"HTML report: {out / 'index.html'}" in run.stdout
    return out


def _page(directory: Path) -> str:
    return (directory / "index.html").read_text()


def test_plugin_report_has_the_matrix_configuration_and_its_figures(plugin_report):
    page = _page(plugin_report)
    assert re.search(r'<td class="passed" title="">ok</td>', page)
    assert "test_unbatched_input[numpy-float64]</td><td>numpy declares no unbatched capability" in page
    assert "dev (up to 8 hypothesis examples per check)" in page and "numpy 2." in page
    assert '<tr class="count"><th>loose</th><td>' in page and "a wrong value of that size" in page
    for name in ("error_by_size", "gradient_by_lag", "long_lag_success"):
        assert f'<img src="{name}.png"' in page and f'href="{name}.svg"' in page
        assert (plugin_report / f"{name}.png").stat().st_size > 10_000 and (plugin_report / f"{name}.svg").exists()


def test_cli_report_shows_each_failure_with_law_counterexample_and_reproducer(cli_report):
    page = _page(cli_report)
    failure = re.search(r'<section id="(f-test-gate-ranges[^"]*)" class="failure"><pre>(.*?)</pre>', page, re.S)
    assert failure, page
    assert f'<a href="#{failure.group(1)}">FAIL</a>' in page
    text = failure.group(2)
    assert "FAILED test_gate_ranges[hard_sigmoid-float64]" in text and "law: For any pre-activation" in text
    assert re.search(r"(Falsifying example|Failing test case): test_gate_ranges", text)
    assert "reproduce: pytest --pyargs &#x27;properties.test_gates::test_gate_ranges" in text
    assert "hard_sigmoid declares no gradients capability" in page
    assert "No implementation in this run has gradients" in page and 'src="long_lag_success.png"' in page


@pytest.mark.parametrize("which", ["plugin_report", "cli_report"])
def test_report_needs_no_network(which, request):
    page = _page(request.getfixturevalue(which))
    assert not re.search(r'(src|href)="(https?:)?//', page), "the report links something on the network"
    assert not re.search(r"<link|@import|url\(", page)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
@pytest.mark.parametrize("which", ["plugin_report", "cli_report"])
def test_report_renders_offline_in_headless_chromium(which, request, tmp_path):
    directory = request.getfixturevalue(which)
    screenshot = tmp_path / "report.png"
    run = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2000",
                          f"--screenshot={screenshot}", "--dump-dom", (directory / "index.html").as_uri()],
                         capture_output=True, text=True, timeout=120)
    dom = run.stdout
    assert '<table class="matrix" id="matrix">' in dom, run.stderr[-2000:]
    figures = int(re.search(r'data-figures="(\d+)"', dom).group(1))
    assert figures == (3 if which == "plugin_report" else 2)  # error/bound, [gradient,] long-lag
    assert f'data-figures-loaded="{figures}"' in dom, "a figure did not load"
    assert screenshot.stat().st_size > 10_000
