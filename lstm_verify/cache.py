"""Where the kit keeps what it writes: one folder per project, ``.lstm_verify/`` in the working
directory unless ``--cache-dir`` (``--lstm-cache-dir``; for both, env ``LSTM_VERIFY_CACHE_DIR``)
says otherwise, created private to its owner. Nothing goes to the temp folder or the home
directory unless asked: a CI job that keeps the folder between runs (as ``.ci/run`` does) keeps
its JAX compilations, which are most of a cold run's time.

================  ================================================================
``jax/``          JAX's persistent compilation cache, shared by the xdist workers
``hypothesis/``   hypothesis's example database (failing examples replayed first)
``pytest-of-*/``  pytest's temporary folders (``tmp_path``), the last three runs
``conversions/``  converted models (LiteRT flatbuffers, ONNX graphs), one file per key
================  ================================================================

A converter adapter converts a model once per shape with marker weights and patches the weights
per parameter set; :func:`cached_conversion` keeps those bytes in ``conversions/`` so that another
worker or a later run does not convert again (1 to 3.4 s a shape). An entry's name is the sha256 of
everything that makes the bytes (:func:`cached_conversion`); an entry that does not read back whole
(its own sha256 is stored with it) is converted again and replaced. ``--fresh`` leaves it alone:
delete the folder to convert everything again. Entries are read most recently used first: past
:data:`CONVERSIONS_LIMIT` the least recently used go (every change to a converter adapter's code
makes a new set; a CI cache would otherwise grow without end).
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import os
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Callable, Sequence

from hypothesis.configuration import set_hypothesis_home_dir

DEFAULT = ".lstm_verify"
CONVERSIONS = "conversions"
ENTRY = b"lstm-verify conversion 1\n"
"""The first bytes of a conversion entry, followed by the sha256 of the model's bytes and the bytes."""
CONVERSIONS_LIMIT = 2 * 2**30
"""The bytes ``conversions/`` may hold; past it the least recently used entries are deleted down to half."""
_conversions: Path | None = None
"""This process's ``conversions/`` folder (set by :func:`use_cache_dir`; None: convert in memory only)."""


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
    global _conversions
    _conversions = path / CONVERSIONS
    prune(_conversions, CONVERSIONS_LIMIT)
    return path


def prune(folder: Path, limit: int) -> None:
    """Delete the least recently used files of ``folder`` (by modification time: a read touches its
    entry) down to ``limit / 2`` bytes when they hold more than ``limit``. Safe to run in parallel:
    a file another process deleted first is skipped."""
    try:
        entries = sorted(((e.stat().st_mtime, e.stat().st_size, e) for e in folder.iterdir() if e.is_file()),
                         key=lambda entry: entry[0])
    except OSError:  # no folder yet, or one deleted under us
        return
    held = sum(size for _, size, _ in entries)
    if held <= limit:
        return
    for _, size, entry in entries:
        if held <= limit // 2:
            break
        entry.unlink(missing_ok=True)
        held -= size


def cached_conversion(key_parts: Sequence[object], convert: Callable[[], bytes], code: Sequence[object]) -> bytes:
    """The bytes ``convert()`` makes, read from the cache folder's ``conversions/`` when an earlier
    conversion of the same key is there, else converted and written (atomically: a temporary file
    renamed, so a parallel worker never reads half an entry). The key is the ``repr`` of each of
    ``key_parts`` (the form, the converter's and libraries' versions, the shape, dtype, variant:
    everything the bytes depend on besides code) and the source of ``code``: for a module name, its
    file and the adapter modules it imports (:func:`lstm_verify.store.adapter_files`); for a
    function or class (a TARGET's step), the bytes of its file. Without a cache folder
    (:func:`use_cache_dir` not called in this process), or with code that has no file, it converts."""
    folder = _conversions
    sources = [_source(c) for c in code] if folder else []
    if folder is None or None in sources:
        return convert()
    digest = hashlib.sha256(repr((tuple(key_parts), tuple(sources))).encode()).hexdigest()
    entry = folder / f"{digest}.bin"
    try:
        stored = entry.read_bytes()
    except OSError:
        stored = b""
    head = len(ENTRY) + 32  # the marker, then the sha256 of the model's bytes
    if stored[:len(ENTRY)] == ENTRY and stored[len(ENTRY):head] == hashlib.sha256(stored[head:]).digest():
        with contextlib.suppress(OSError):  # most recently used: the last to be pruned
            os.utime(entry)
        return stored[head:]
    model = convert()
    folder.mkdir(mode=0o700, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f"{digest}.", suffix=".tmp", dir=folder)
    with os.fdopen(handle, "wb") as out:
        out.write(ENTRY + hashlib.sha256(model).digest() + model)
    os.replace(temporary, entry)
    return model


@cache
def _source(code: object) -> str | None:
    """The sha256 of ``code``'s source files (a module name: with the adapter modules it imports;
    an object: its file); None when it has none or one cannot be read."""
    from lstm_verify.store import adapter_files  # the verdict store's reading of an adapter's files
    try:
        paths = adapter_files(code) if isinstance(code, str) else [Path(inspect.getsourcefile(code) or "")]
        return " ".join(hashlib.sha256(p.read_bytes()).hexdigest() for p in paths) if paths else None
    except (TypeError, OSError, ImportError, ValueError):  # a builtin, code without a file, a module not found
        return None
