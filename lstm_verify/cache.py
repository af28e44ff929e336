"""Where the kit keeps what it writes: one folder per project, ``.lstm_verify/`` in the working
directory unless ``--cache-dir`` (``--lstm-cache-dir``; for both, env ``LSTM_VERIFY_CACHE_DIR``)
says otherwise, created private to its owner. Nothing goes to the temp folder or the home
directory unless asked: a CI job that keeps the folder between runs (as ``.ci/run`` does) keeps
its JAX compilations, which are most of a cold run's time.

================  ================================================================
``jax/``          JAX's persistent compilation cache, shared by the xdist workers
``hypothesis/``   hypothesis's example database (failing examples replayed first)
``pytest-of-*/``  pytest's temporary folders (``tmp_path``), the last three runs
================  ================================================================
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis.configuration import set_hypothesis_home_dir

DEFAULT = ".lstm_verify"


class CacheDirError(Exception):
    """The cache folder cannot be used; the message is one line for the user."""


def use_cache_dir(folder: str | os.PathLike | None) -> Path:
    """Send JAX's compilation cache, hypothesis's files and pytest's temporary folders to ``folder``
    (default env ``LSTM_VERIFY_CACHE_DIR``, else :data:`DEFAULT` in the working directory); returns
    it, absolute."""
    path = Path(folder or os.environ.get("LSTM_VERIFY_CACHE_DIR") or DEFAULT).resolve()
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise CacheDirError(f"cannot create the cache folder {path}: {exc.strerror or exc}") from None
    if hasattr(os, "getuid") and path.stat().st_uid != os.getuid():
        raise CacheDirError(f"the cache folder {path} belongs to another user; give your own with --cache-dir")
    jax_cache = str(path / "jax")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = jax_cache
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")  # small programs too: many shapes
    # JAX's default puts XLA's GPU autotuning folder, a path inside the cache folder, into the
    # compile options its cache keys hash: a folder restored at another path (another runner's
    # home, a CI cache step) then missed every program (measured: 1444 s of compiling in a CI run
    # given a copy of a warm folder). Without it the keys do not depend on where the folder is.
    os.environ.setdefault("JAX_PERSISTENT_CACHE_ENABLE_XLA_CACHES", "none")
    if "jax" in sys.modules:  # imported already, so it has read the variables: tell it directly
        import jax
        jax.config.update("jax_compilation_cache_dir", jax_cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs",
                          float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]))
        jax.config.update("jax_persistent_cache_enable_xla_caches", os.environ["JAX_PERSISTENT_CACHE_ENABLE_XLA_CACHES"])
    set_hypothesis_home_dir(path / "hypothesis")
    os.environ["PYTEST_DEBUG_TEMPROOT"] = str(path)
    return path
