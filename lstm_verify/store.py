"""Incremental verification: a check whose inputs are unchanged since its verdict was measured is
not run again; its stored verdict is reported instead, marked as stored (``Result.stored``: when
and at which commit it was measured). The verdicts live in the cache folder (``verdicts.json``,
:mod:`lstm_verify.cache`); ``--fresh`` (``--lstm-fresh``, env ``LSTM_VERIFY_FRESH``) runs every
check and stores the new verdicts, and a clean cache folder runs everything.

A check is one law on one implementation (adapter and dtype). Its inputs, hashed when the run
starts (sha256 of the files' bytes), and so what makes it run again when any of them changes:

==========  ===================================================================================
core        every ``.py`` file of the kit outside the adapters' own modules (``lstm_verify/``
            with ``adapters/__init__.py`` and ``adapters/base.py``: reference, error model,
            strategies, agreement, checks, plugin, reports ...) and ``properties/__init__.py``;
            the versions of Python, NumPy, hypothesis and pytest. Any change re-runs every check.
law         the file of the law's module in ``properties/`` (``test_cec.py``): re-runs that law
            on every implementation.
adapter     the adapter class's module file and the adapter modules it imports, followed
            through ``lstm_verify.adapters.*`` imports (``paper_cell.py`` brings ``_torch.py``):
            re-runs that adapter's column (every dtype), and every column sharing the module.
versions    ``Adapter.version()``, the distributions the adapter loads (``torch 2.9.1``):
            re-runs that adapter's columns.
run         the profile, ``--hypothesis-seed``, TARGET with the bytes of its file (``file.py``,
            the module's file, or the ``.onnx`` model; not the files it imports), ``--kind``,
            ``--via``, ``--runtime``, ``--layout``, ``--precision``, ``--timeout``, the bytes of
            the ``--xfail`` file and ``JAX_ENABLE_X64``: a change re-runs every check of the run.
==========  ===================================================================================

Only the laws of ``properties/`` that the plugin parametrizes are stored (not a test of the
adopter's own made with :func:`lstm_verify.api.parametrize_with_impls`). The implementation id
carries the dtype, and ``--device``'s accelerator (``my_cell-cuda-float32``). Not inputs: the
hardware (a store copied to a machine with another CPU or GPU serves its verdicts there: use
``--fresh``), ``--memory-limit`` (a check that passed under one limit is served under another), and the shrinking budget and
``--strict-xfails`` (they change only failures and unexpected passes, which are never stored).

Stored: ``passed`` and ``xfailed`` verdicts, and skips decided before the law ran (the law does
not apply: a capability, dtype or profile the implementation or law declares) for an adapter
that can run here. Never stored: failures, crashes, unexpected passes, a skip because a library
or device is missing here, and a skip inside the law (a training law stopped because another law
failed). A check that runs again replaces its record; a check whose verdict is not storable
drops it. Only a derandomized profile (``ci``) or a fixed ``--hypothesis-seed`` uses the store: a
random profile draws new examples each run, so its inputs are never the same. Adapters handed
over as objects (:func:`lstm_verify.api.check_impl` with a class or function) always run: the
kit cannot tell which files their code is in.

Under pytest-xdist the controller reads the store once and hands the stored digests to its
workers (each deselects the same checks, and reports them back); it writes the store at the end
of the session.
"""

from __future__ import annotations

import ast
import datetime
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import subprocess
from pathlib import Path

import pytest

import properties
from lstm_verify.config import PROFILES, Options, options_from_pytest
from lstm_verify.implementation import Implementation
from lstm_verify.results import STORED, Collector, Result

FILE = "verdicts.json"
KIT = Path(__file__).parent
LAWS = Path(properties.__file__).parent
LAWS_PACKAGE = f"{properties.__name__}."
CORE_ADAPTER_FILES = ("__init__.py", "base.py")
"""The files of ``lstm_verify/adapters/`` that belong to the core (the registry and the Adapter
base class every adapter inherits); the others are adapters' own modules."""
CORE_DISTRIBUTIONS = ("numpy", "hypothesis", "pytest")
STORABLE = ("passed", "xfailed")
"""Statuses stored as they are; a skip is stored when it was decided before the law ran."""


def _sha(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _file(path: Path) -> str:
    """The file's digest, or a marker when it cannot be read (a later readable file differs)."""
    try:
        return _sha(str(path.name), path.read_bytes())
    except OSError:
        return f"unreadable {path}"


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def core_digest(kit: Path = KIT, laws: Path = LAWS) -> str:
    """The digest of the kit's core: every module but the adapters' own, ``properties/__init__.py``,
    and the versions of Python and :data:`CORE_DISTRIBUTIONS`."""
    adapters = kit / "adapters"
    files = sorted(p for p in kit.rglob("*.py")
                   if p.parent != adapters or p.name in CORE_ADAPTER_FILES)
    return _sha(*(f"{p.relative_to(kit)} {_file(p)}" for p in files), _file(laws / "__init__.py"),
                platform.python_version(), *(f"{d} {_version(d)}" for d in CORE_DISTRIBUTIONS))


def adapter_files(module: str, kit: Path = KIT) -> list[Path]:
    """The files of the adapter module ``module`` (``lstm_verify.adapters.torch_cell``, or a module of
    the user's) and of the adapter modules it imports, followed through ``lstm_verify.adapters.*``
    imports; a kit module's file is read under ``kit``."""
    package = f"{__package__}.adapters"
    found: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        if name in found or name in (package, *(f"{package}.{f[:-3]}" for f in CORE_ADAPTER_FILES)):
            continue
        if name.startswith(package + "."):
            path = kit / "adapters" / (name.rpartition(".")[2] + ".py")
        else:
            spec = importlib.util.find_spec(name)
            if spec is None or not spec.origin or not spec.origin.endswith(".py"):
                continue
            path = Path(spec.origin)
        found[name] = path
        try:
            tree = ast.parse(path.read_bytes())
        except (OSError, SyntaxError):
            continue
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
            todo += [n for n in names if n.startswith(package + ".")]
    return sorted(found.values())


def target_file(spec: str) -> Path | None:
    """The file a TARGET names: ``file.py``, the ``.onnx`` model, or the module's file."""
    if spec.endswith(".onnx"):
        return Path(spec)
    module = spec.rpartition(":")[0]
    if module.endswith(".py"):
        return Path(module)
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    return Path(found.origin) if found and found.origin else None


def random_draws(options: Options, seed: object) -> bool:
    """Whether this run's examples are drawn afresh: a random profile without a fixed seed."""
    return not PROFILES.get(options.profile, {}).get("derandomize") and seed is None


def run_digest(options: Options, seed: object) -> str:
    """The digest of what a run sets for all its checks (the ``run`` row of the module's table)."""
    target = target_file(options.impl) if options.impl else None
    xfail = Path(options.xfail) if options.xfail else None
    return _sha(json.dumps({
        "impl": options.impl, "target": target and _file(target), "kind": options.kind if options.impl else None,
        "via": options.via, "runtime": options.runtime, "layout": options.layout, "precision": options.precision,
        "profile": options.profile, "seed": None if seed is None else str(seed), "timeout": float(options.timeout),
        "xfail": xfail and _file(xfail), "jax_enable_x64": os.environ.get("JAX_ENABLE_X64", "")}, sort_keys=True))


class Inputs:
    """The digests of a run's checks: :func:`core_digest` and :func:`run_digest` once, and per check
    its law's file, its adapter's files and versions, and its implementation id."""

    def __init__(self, options: Options, seed: object = None, kit: Path = KIT, laws: Path = LAWS) -> None:
        self.kit, self.laws = kit, laws
        self.base = _sha(core_digest(kit, laws), run_digest(options, seed))
        self._adapters: dict[int, tuple[str, bool]] = {}
        self._laws: dict[str, str] = {}

    def adapter(self, impl: Implementation) -> tuple[str, bool]:
        """The digest of ``impl``'s adapter (its files and the versions of its libraries), and
        whether it can run here (its libraries and device are present)."""
        adapter = impl.adapter
        if id(adapter) not in self._adapters:
            files = adapter_files(type(adapter).__module__, self.kit)
            self._adapters[id(adapter)] = (_sha(*(_file(p) for p in files), adapter.version()),
                                           adapter.unavailable() is None)
        return self._adapters[id(adapter)]

    def digest(self, law: str, module: str, impl: Implementation) -> str:
        """The digest of law ``law`` (in ``properties.<module>``) on ``impl``."""
        if module not in self._laws:
            self._laws[module] = _file(self.laws / f"{module.rpartition('.')[2]}.py")
        return _sha(self.base, law, self._laws[module], self.adapter(impl)[0], impl.id)


def measured_at() -> str:
    """'2026-12-06 22:10 UTC, 7887cdb': now, and the kit's commit when it is a git checkout
    (``-dirty`` with changes not committed)."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    try:
        commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=KIT, capture_output=True,
                                text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{now}, {commit}" if commit else now


def read(folder: Path) -> dict[str, dict]:
    """The stored records of the cache folder, by digest (none when the file is missing or unreadable)."""
    try:
        records = json.loads((folder / FILE).read_text()).get("records", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return records if isinstance(records, dict) else {}


def write(folder: Path, ran: dict[str, Result], storable: set[str]) -> None:
    """Record the checks that ran (``ran``: digest -> result): a storable verdict (digests in
    ``storable``) replaces the check's earlier record, any other drops it. Re-read and replaced
    whole (a concurrent run's records may be lost, which only runs them again)."""
    records = read(folder)
    checks = {(r.property, r.implementation) for r in ran.values()}
    records = {d: r for d, r in records.items() if (r["result"]["property"], r["result"]["implementation"]) not in checks}
    stamp = measured_at()
    for digest, result in ran.items():
        if digest in storable:
            records[digest] = {"measured": stamp, "result": {**result.as_dict(), "stored": "", "shard": ""}}
    temporary = folder / f"{FILE}.{os.getpid()}.tmp"
    temporary.write_text(json.dumps({"records": records}, indent=0, sort_keys=True))
    os.replace(temporary, folder / FILE)


def served(record: dict) -> Result:
    """The stored verdict as this run's result, marked with when it was measured."""
    return Result(**{**record["result"], "stored": record["measured"]})


def _impl(item: pytest.Item) -> Implementation | None:
    impl = getattr(item, "callspec", None) and item.callspec.params.get("impl")
    return impl if isinstance(impl, Implementation) else None


class Store:
    """The pytest plugin object of a session that checks named implementations (not adapters handed
    over as objects), under a derandomized profile or a fixed seed: deselects the checks whose
    stored verdicts stand, reports them (:data:`lstm_verify.results.STORED`), and records the
    session's verdicts."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        options = options_from_pytest(config)
        self.folder = Path(options_from_pytest(config).cache_dir)
        self.inputs = Inputs(options, config.getoption("hypothesis_seed", None))
        self.serve = not options.fresh and not config.getoption("collectonly")  # --collect-only lists every check
        self.worker = hasattr(config, "workerinput")
        if self.worker:
            self.stored = set(config.workerinput.get("lstm_stored", ()))
        else:
            self.records = read(self.folder) if self.serve else {}
            self.stored = set(self.records)
            self.recorder = Collector(None)
            config.pluginmanager.register(self.recorder, "lstm-verify-recorder")
        self.digests: dict[str, str] = {}
        """nodeid -> digest of every check this process collected (the controller: every check that reported)."""
        self.static_skips: set[str] = set()
        """nodeids whose skip was decided before the law ran, for an adapter that can run here."""

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: object) -> None:
        node.workerinput["lstm_stored"] = sorted(self.stored)

    @pytest.hookimpl(wrapper=True)  # after every other selection (-k, shards): the store serves what is left
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> object:
        result = yield
        keep, served_here = [], {}
        for item in items:
            impl = _impl(item)
            if impl is None or not item.module.__name__.startswith(LAWS_PACKAGE):
                keep.append(item)  # a law parametrized elsewhere (parametrize_with_impls) may hold code of any file
                continue
            digest = self.inputs.digest(item.originalname, item.module.__name__, impl)
            item.user_properties += [("lstm_inputs", digest), ("lstm_runs_here", self.inputs.adapter(impl)[1])]
            if self.serve and digest in self.stored:
                served_here[item.nodeid] = digest
            else:
                keep.append(item)
        if served_here:
            config.hook.pytest_deselected(items=[item for item in items if item.nodeid in served_here])
            items[:] = keep
        if self.worker:
            config.workeroutput["lstm_stored"] = served_here
        else:
            config.stash[STORED] = {nodeid: served(self.records[d]) for nodeid, d in served_here.items()}
        return result

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: object, error: object) -> None:
        """A worker finished: the checks it served from the store (every worker serves the same)."""
        stored = self.config.stash.setdefault(STORED, {})
        for nodeid, digest in getattr(node, "workeroutput", {}).get("lstm_stored", {}).items():
            stored.setdefault(nodeid, served(self.records[digest]))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "lstm_inputs" not in props:
            return
        self.digests[report.nodeid] = props["lstm_inputs"]
        if report.when == "setup" and report.skipped and props["lstm_runs_here"]:
            self.static_skips.add(report.nodeid)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        count = len(self.config.stash.get(STORED, {}))
        if count and not self.worker:
            terminalreporter.write_line(f"lstm-verify: {count} checks deselected: their stored verdicts stand, "
                                        "their inputs unchanged (--lstm-fresh runs them)")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.worker:
            return
        ran = {self.digests[n]: r for n, r in self.recorder.results.items()
               if n in self.recorder.finished and n in self.digests and not r.stored}
        storable = {self.digests[n] for n, r in self.recorder.results.items() if n in self.digests and (
            r.status in STORABLE or (r.status == "skipped" and n in self.static_skips))}
        if ran:
            write(self.folder, ran, storable)
