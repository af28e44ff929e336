"""The adopter's recipe end to end: a throwaway git repository holding a NumPy LSTM step and the
README's ten-line ``benchmarks/bench_lstm.py``; asv records two commits of it in the current
environment, and the gate (``python -m lstm_verify.asv``) finds the slowdown planted in the second."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import lstm_verify.asv

STEP = textwrap.dedent('''\
    import numpy as np


    def sigmoid(z):
        return 0.5 * (1 + np.tanh(0.5 * z))


    def step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
        z = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
        i, f, g, o = np.split(z, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        return sigmoid(o) * np.tanh(c), c
    ''')
SUITE = textwrap.dedent('''\
    from pathlib import Path

    import lstm_verify.asv
    from lstm_verify.bench import Shape


    class TimeMyStep(lstm_verify.asv.LSTMSuite):
        target = f"{Path(__file__).resolve().parents[1]}/my_step.py:step"
        kind = "numpy-step"
        shapes = ()
        extra_shapes = {"tiny": Shape(2, 8, 16, 10)}
        baselines = False
        repeats = 3
    ''')
CONFIG = {"version": 1, "project": "my_lstm", "repo": ".", "branches": ["main"], "environment_type": "existing",
          "benchmark_dir": "benchmarks", "results_dir": "results", "html_dir": "html"}


def _run(*command: str, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _commit(repo: Path, message: str, env: dict[str, str]) -> str:
    _run("git", "add", "-A", cwd=repo, env=env)
    _run("git", "commit", "-qm", message, cwd=repo, env=env)
    return _run("git", "rev-parse", "HEAD", cwd=repo, env=env).strip()


@pytest.mark.skipif(shutil.which("asv") is None and not (Path(sys.executable).parent / "asv").exists(),
                    reason="asv is not installed (pip install lstm-verify[bench])")
def test_adopter_suite_sees_a_planted_slowdown(tmp_path):
    asv = shutil.which("asv") or str(Path(sys.executable).parent / "asv")
    repo = tmp_path / "repo"
    (repo / "benchmarks").mkdir(parents=True)
    (repo / "my_step.py").write_text(STEP)
    (repo / "benchmarks" / "__init__.py").write_text("")
    (repo / "benchmarks" / "bench_lstm.py").write_text(SUITE)
    (repo / "asv.conf.json").write_text(json.dumps(CONFIG))
    env = {**os.environ, "HOME": str(tmp_path), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid", "OMP_NUM_THREADS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    _run("git", "init", "-q", "-b", "main", cwd=repo, env=env)
    _run(asv, "machine", "--yes", "--machine", "box", cwd=repo, env=env)
    record = [asv, "run", "--python=same", "--machine", "box", "--show-stderr", "--set-commit-hash"]

    fast = _commit(repo, "a correct step", env)
    out = _run(*record, fast, cwd=repo, env=env)
    assert "track_us_per_step" in out and "failed" not in out.split("track_us_per_step", 1)[1], out
    (repo / "my_step.py").write_text(STEP.replace("    z = x @", "    import time\n    time.sleep(0.002)\n    z = x @"))
    slow = _commit(repo, "the same step, 2 ms slower", env)
    _run(*record, slow, cwd=repo, env=env)

    worse = lstm_verify.asv.regressions(fast, slow, 1.5, "box", str(repo / "asv.conf.json"))
    assert any("step/cpu/float32', 'tiny', 'step'" in line for line in worse), worse
    assert any("'forward'" in line for line in worse), worse
    assert lstm_verify.asv.regressions(fast, fast, 1.5, "box", str(repo / "asv.conf.json")) == []
