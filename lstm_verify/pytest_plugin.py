"""The pytest plugin: chooses the implementations and the hypothesis profile, parametrises
the properties over them, skips what an implementation cannot serve (with the reason),
marks the adopter's expected failures, and adds a reproducer to every failure.
Registered through the ``pytest11`` entry point; every option has an environment variable.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Callable

import pytest
from hypothesis import settings
from hypothesis.internal.conjecture import engine

import properties
from lstm_verify.adapters import BUILTIN, Adapter, builtin_adapter
from lstm_verify.board import open_board, post
from lstm_verify.cache import CacheDirError, use_cache_dir
from lstm_verify.checks import Observations, observations, sizes_covered
from lstm_verify.config import SHRINK_SECONDS, add_pytest_options, options_from_pytest, reproducer
from lstm_verify.error_model import PrecisionError, precision
from lstm_verify.expected import Expected, ExpectedError, read_expected, unmatched
from lstm_verify.guard import (end_without_teardown, keep_alarm_handler, keep_freed_memory, limit_memory,
                               release_compiled_programs, watch_process)
from lstm_verify.implementation import Implementation
from lstm_verify.store import Store, random_draws
from lstm_verify.targets import TargetError, target_adapters

class InjectedAdapters:
    """A plugin object carrying adapters handed over in-process (:func:`lstm_verify.api.check_impl`
    with a class or function): the session checks these instead of what the options name."""

    def __init__(self, adapters: list[Adapter]) -> None:
        self.adapters = list(adapters)


def _injected(config: pytest.Config) -> list[Adapter] | None:
    found = [p for p in config.pluginmanager.get_plugins() if isinstance(p, InjectedAdapters)]
    return found[0].adapters if found else None


_IMPLS = pytest.StashKey[list]()
_LOAD_ERROR = pytest.StashKey[pytest.UsageError]()
_XFAILS = pytest.StashKey[list]()
_ACTIVE = pytest.StashKey[tuple]()
_INACTIVE = pytest.StashKey[list]()
_COMPILE_START = pytest.StashKey[float]()
COMPILE_EVENTS = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
                  "/jax/core/compile/backend_compile_duration")
"""The ``jax.monitoring`` durations that make up JAX's compiling: tracing, lowering, XLA's compile."""
_compiled = {"seconds": 0.0, "listening": False}


def compile_seconds(impl: Implementation | None = None) -> float:
    """Seconds JAX has spent compiling in this process so far. Counting starts once JAX is imported,
    or as soon as ``impl`` is a JAX implementation (before its first compile); 0 without JAX."""
    if not _compiled["listening"] and ("jax" in sys.modules or (impl and "jax" in impl.adapter.requires)):
        import jax.monitoring

        def heard(event: str, seconds: float, **_: object) -> None:
            if event in COMPILE_EVENTS:
                _compiled["seconds"] += seconds
        jax.monitoring.register_event_duration_secs_listener(heard)
        _compiled["listening"] = True
    return _compiled["seconds"]


def pytest_addoption(parser: pytest.Parser) -> None:
    add_pytest_options(parser)


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def selected_adapters(config: pytest.Config) -> list[Adapter]:
    """The adapters chosen by the options: a target, injected ones, or built-ins."""
    injected = _injected(config)
    if injected is not None:
        return injected
    options = options_from_pytest(config)
    if options.impl:
        try:
            return target_adapters(options.impl, options.kind, options.layout, via=options.via,
                                   runtime=options.runtime, device=options.device, variant=options.variant)
        except TargetError as exc:
            raise pytest.UsageError(str(exc)) from None
    if options.via or options.device:
        raise pytest.UsageError(f"--lstm-{'via' if options.via else 'device'} takes a --lstm-impl TARGET")
    if options.variant:
        raise pytest.UsageError("--lstm-variant says what a --lstm-impl TARGET computes: the built-in adapters "
                                "declare their own")
    names = _split(options.adapters)
    names = list(BUILTIN) if names == ["all"] else names
    unknown = sorted(set(names) - set(BUILTIN))
    if unknown:
        raise pytest.UsageError(f"unknown adapter(s) {', '.join(unknown)}; known: {', '.join(BUILTIN)}")
    return [builtin_adapter(n) for n in names]


def runs_the_laws(config: pytest.Config) -> bool:
    """Whether this session checks implementations: it collects the ``properties`` package, or an
    ``--lstm-*`` option or ``LSTM_VERIFY_*`` variable was given. In any other session of a project
    that merely has the kit installed, the plugin imports no adapter and moves no cache."""
    laws = Path(properties.__file__).parent
    for arg in config.args:
        target = str(arg).split("::")[0]
        if target.split(".")[0] == "properties" or laws in (Path(target).resolve(), *Path(target).resolve().parents):
            return True
    return (any(str(a).startswith("--lstm-") for a in config.invocation_params.args)
            or any(k.startswith("LSTM_VERIFY_") for k in os.environ))


@pytest.hookimpl(tryfirst=True)  # before pytest's tmp_path and before any adapter imports JAX
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requires(capability): skip for implementations without it")
    config.addinivalue_line("markers", "profiles(*names, cost=...): run only in these profiles, else skip with the cost")
    active = runs_the_laws(config)
    if not active:  # a project that merely has the kit installed: its own hypothesis settings stay as they are
        config.stash[_IMPLS], config.stash[_XFAILS] = [], []
        return
    try:
        config.option.lstm_cache_dir = str(use_cache_dir(options_from_pytest(config).cache_dir))
    except CacheDirError as exc:
        raise pytest.UsageError(str(exc)) from None
    options = options_from_pytest(config)
    if not config.pluginmanager.has_plugin("lstm_verify.shard"):
        config.pluginmanager.import_plugin("lstm_verify.shard")
    if _injected(config) is None and not random_draws(options, config.getoption("hypothesis_seed", None)):
        config.pluginmanager.register(Store(config), "lstm-verify-store")
    previous = settings.get_current_profile_name()
    config.add_cleanup(lambda: settings.load_profile(previous))  # a run inside a test leaves the test's profile
    settings.load_profile(options.profile)
    config.add_cleanup(budget_shrinking(SHRINK_SECONDS[options.profile] if options.shrink_seconds is None
                                        else options.shrink_seconds))
    try:
        precision(options.precision)
    except PrecisionError as exc:
        raise pytest.UsageError(str(exc)) from None
    hands_out = _hands_out(config)
    try:
        config.stash[_IMPLS] = implementations(config) if not hands_out else []
    except pytest.UsageError as exc:
        if not hasattr(config, "workerinput"):
            raise
        # a worker where the TARGET does not load though it did in the controller (another sys.path):
        # raised here, the worker would die and xdist replace it, failing the same way, MAX_RESTARTS times
        config.stash[_IMPLS], config.stash[_LOAD_ERROR] = [], exc
    if not hasattr(config, "workerinput"):  # the controller: workers inherit the board's name
        config.add_cleanup(open_board(Path(config.option.lstm_cache_dir)))
    if getattr(config.option, "maxschedchunk", 0) is None:  # xdist: see _longest_first
        config.option.maxschedchunk = 1
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):  # where the laws run
        config.add_cleanup(limit_memory(options.memory_limit or 0))
        crash_dir = os.environ.get("LSTM_VERIFY_CRASH_DIR")
        if crash_dir:  # a process lstm-verify started (lstm_verify.runner)
            config.add_cleanup(watch_process(crash_dir, os.environ.get("PYTEST_XDIST_WORKER", "main")))
            if hasattr(config, "workerinput"):
                atexit.register(end_without_teardown)
    if hasattr(config, "workerinput"):  # a process that only runs laws, not the caller's own
        keep_freed_memory()
        keep_alarm_handler()
    if not hands_out:
        _register_html(config)
    try:
        config.stash[_XFAILS] = read_expected(options.xfail) if options.xfail else []
    except ExpectedError as exc:
        raise pytest.UsageError(str(exc)) from None


def implementations(config: pytest.Config) -> list[Implementation]:
    """The implementations the options choose: each adapter at each dtype (imports a TARGET), their
    declared known differences well-formed."""
    options = options_from_pytest(config)
    impls = [Implementation(a, d, options.timeout, options.precision) for a in selected_adapters(config)
             for d in _split(options.dtypes)]
    for impl in impls:  # a malformed entry is the adapter author's usage error, said before any check runs
        try:
            impl.adapter.known_differences(impl.dtype)
        except ExpectedError as exc:
            raise pytest.UsageError(f"{impl.adapter.name}.known_differences({impl.dtype!r}): {exc}") from None
    return impls


def _hands_out(config: pytest.Config) -> bool:
    """Whether this process is a pytest-xdist controller of a session that checks implementations:
    its workers run every check, and it loads the implementations only once they are starting
    (:func:`pytest_sessionstart`)."""
    return (not hasattr(config, "workerinput") and getattr(config.option, "dist", "no") != "no"
            and not config.getoption("collectonly") and runs_the_laws(config) and _injected(config) is None)


def _register_html(config: pytest.Config) -> None:
    options = options_from_pytest(config)
    if options.html and not hasattr(config, "workerinput"):
        from lstm_verify.report.html import HtmlReport

        adapters = list(dict.fromkeys(i.adapter for i in config.stash[_IMPLS]))
        config.pluginmanager.register(HtmlReport(options.html, options, adapters))


@pytest.hookimpl(wrapper=True)
def pytest_sessionstart(session: pytest.Session) -> object:
    """In a pytest-xdist controller, load the implementations (import a TARGET, and torch or JAX
    with it) after xdist has started its workers, which import them too: done first, the
    controller's import held back every worker's start (1.4 s of a 7 s run on 2 cores, measured).
    A TARGET that does not load ends the session at :func:`pytest_runtestloop`, where xdist
    still stops its workers; one that loads here but not in a worker makes the worker collect
    nothing and fail the session with the import's line (xdist: "Interrupted: gw0: cannot import ...")."""
    result = yield
    config = session.config
    if hasattr(config, "workerinput") and _LOAD_ERROR in config.stash:  # collection stops at once; xdist ends the run
        session.shouldfail = f"{config.workerinput['workerid']}: {config.stash[_LOAD_ERROR]}"  # with this line
    if _hands_out(config):
        try:
            config.stash[_IMPLS] = implementations(config)
        except pytest.UsageError as exc:
            config.stash[_LOAD_ERROR] = exc
        else:
            _register_html(config)
    return result


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    if _LOAD_ERROR in session.config.stash and not hasattr(session.config, "workerinput"):
        raise session.config.stash[_LOAD_ERROR]


def pytest_report_header(config: pytest.Config) -> list[str]:
    if not runs_the_laws(config):
        return []
    lines = [f"lstm-verify: hypothesis profile {config.getoption('--lstm-profile')}, "
             f"dtypes {config.getoption('--lstm-dtypes')}, cache {config.getoption('--lstm-cache-dir')}"]
    for adapter in dict.fromkeys(i.adapter for i in config.stash[_IMPLS]):
        lines.append(f"  {adapter.name}: {adapter.unavailable() or adapter.version()} "
                     f"(layout {adapter.layout.name})")
    return lines


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    explicit = any("impl" in str(m.args[0]) for m in metafunc.definition.iter_markers("parametrize"))
    if "impl" in metafunc.fixturenames and not explicit:
        impls = metafunc.config.stash[_IMPLS]
        metafunc.parametrize("impl", impls, ids=[i.id for i in impls])


def _impl(item: pytest.Item) -> Implementation | None:
    impl = getattr(item, "callspec", None) and item.callspec.params.get("impl")
    return impl if isinstance(impl, Implementation) else None


def _in_force(entries: list[Expected], law: str, impl_id: str) -> tuple[list[Expected], list[str]]:
    """Of ``entries`` (the adopter's and the adapter's known differences), those in force for ``law``
    on ``impl_id``, and those declared for it but not applied, each with why (the installed library is
    outside the versions it was measured on)."""
    declared = [(e, e.version_mismatch()) for e in entries if e.applies_to(law, impl_id)]
    return ([e for e, mismatch in declared if not mismatch],
            [f"{e.describe()}: {mismatch}" for e, mismatch in declared if mismatch])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    checks = []
    entries: dict[str, list[Expected]] = {}  # per implementation: built once, not once per law
    for item in items:
        impl = _impl(item)
        if impl is None:
            continue
        checks.append((item.originalname, impl.id))
        if impl.id not in entries:
            entries[impl.id] = [*config.stash[_XFAILS], *impl.adapter.known_differences(impl.dtype)]
        item.stash[_ACTIVE], item.stash[_INACTIVE] = _in_force(entries[impl.id], item.originalname, impl.id)
    for key in unmatched(config.stash[_XFAILS], checks):
        warnings.warn(pytest.PytestWarning(f"expected-failure entry {key} matches no check"), stacklevel=2)
    if checks:
        _longest_first(items)


def _longest_first(items: list[pytest.Item]) -> None:
    """Sort the checks by measured cost (``costs.json``, :func:`lstm_verify.shard.cost`), longest
    first. pytest-xdist's load scheduling hands items out in order, and with ``--maxschedchunk 1``
    (set by :func:`pytest_configure` unless given; xdist's default hands each worker a quarter of
    its share at once) a worker holds one running and one queued check and takes the next longest
    as it finishes one: nearly longest-processing-time-first, so a long check does not start last.
    The sort is stable and the same in every worker (xdist requires it); items that are not checks
    keep their order, after the checks."""
    from lstm_verify.shard import cost, load_costs  # (python -m lstm_verify.shard imports this module)

    costs = load_costs()

    def seconds(item: pytest.Item) -> float:
        impl = _impl(item)
        return cost(costs, item.originalname, impl.id) if impl else 0.0

    items.sort(key=lambda item: -seconds(item))


def pytest_runtest_setup(item: pytest.Item) -> None:
    impl = _impl(item)
    if impl is None:
        return
    item.user_properties += [("lstm_impl", impl.id), ("lstm_property", item.originalname)]
    observations(item.originalname, item.stash.get(_ACTIVE, ()))  # what the comparisons of this check see, from here
    item.stash[_COMPILE_START] = compile_seconds(impl)
    reason = properties.skip_reason(item.function, impl, options_from_pytest(item.config).profile)
    if reason and reason == impl.adapter.wrong_environment():  # refused, never a green skip
        pytest.fail(reason, pytrace=False)
    if reason:
        pytest.skip(reason)


def pytest_runtest_teardown(item: pytest.Item) -> None:
    """A long-lived worker keeps JAX's compiled programs only while they fit in the process's
    memory mappings (:func:`lstm_verify.guard.release_compiled_programs`)."""
    if _impl(item) is not None:
        release_compiled_programs()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> object:
    """A check expected to end in an exception (an entry with ``raises``) is not shrunk: its verdict
    is that it fails, and its evidence is its reason, so the first failing example decides it
    (shrinking was about a seventh of the main job's check time). Expected violations (``match``)
    need no budget: they are recorded without failing the example."""
    if _impl(item) is None or not any(e.raises for e in item.stash.get(_ACTIVE, ())):
        return (yield)
    undo = budget_shrinking(0)
    try:
        return (yield)
    finally:
        undo()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    report = yield
    if _impl(item) is None or report.when != "call":
        return report
    stats = getattr(item, "hypothesis_statistics", "")  # "N passing examples" (older) or "N passing," (newer)
    examples = sum(int(n) for n in re.findall(r"(\d+) passing\b", stats))
    seen = observations()
    _expected_outcome(item, call, report, seen)
    report.user_properties += [("lstm_examples", examples), ("lstm_sizes", sizes_covered(seen.sizes)),
                               ("lstm_margin", seen.worst), ("lstm_compared", seen.compared),
                               ("lstm_loose", seen.loose),
                               ("lstm_compile_seconds", compile_seconds() - item.stash.get(_COMPILE_START, 0.0))]
    if report.failed:
        post(_impl(item).id, item.originalname)  # a training law of this implementation stops training
        report.sections.append(("reproduce", reproducer(options_from_pytest(item.config),
                                                        f"{item.module.__name__}::{item.name}")
                                + "  (hypothesis replays the failing example)"))
        for note in item.stash.get(_INACTIVE, []):
            report.sections.append(("expected", f"an expected failure of this law was not applied: {note}"))
        if f"Stopped because {engine.ExitReason.very_slow_shrinking.value}" in stats:
            report.sections.append(("shrinking", f"cut short by its budget of {engine.MAX_SHRINKING_SECONDS:g} s: "
                                    "the smallest counterexample found in that time, maybe not the minimal one "
                                    "(--lstm-shrink-seconds or the thorough profile give it longer)"))
    return report


def budget_shrinking(seconds: float | None) -> Callable[[], None]:
    """Stop hypothesis shrinking a failure after ``seconds`` (None: leave hypothesis's limit);
    returns the undo.

    Shrinking is what a failing law spends its time on: every candidate runs the law again,
    and a detached-carry cell spent minutes of its verdict shrinking gradient failures.
    Hypothesis has no setting for a time budget. Its engine reads ``MAX_SHRINKING_SECONDS``
    (five minutes, documented as monkeypatchable) each time a shrink phase starts, and past
    that deadline reports the smallest failing example found so far: still a failing, replayable
    example, shrunk as far as the budget allowed. The alternatives give up more: a profile
    without ``Phase.shrink`` reports the first, unshrunk example, and ``MAX_SHRINKS`` counts
    successful shrinks, not seconds. The price: how far shrinking gets within a time budget
    depends on the machine, so a derandomized run's counterexample (never its verdict) can
    differ between machines. A failure whose shrinking was cut short says so (its
    ``shrinking`` section)."""
    previous = engine.MAX_SHRINKING_SECONDS
    if seconds is not None:
        engine.MAX_SHRINKING_SECONDS = seconds
    return lambda: setattr(engine, "MAX_SHRINKING_SECONDS", previous)


def _expected_outcome(item: pytest.Item, call: pytest.CallInfo, report: pytest.TestReport, seen: Observations) -> None:
    """Turn the call's report into an exact expected failure: *xfailed* when a violation matched an
    entry in force (and none other failed the law) or the law ended in an entry's exception, with
    what happened; *xpassed* when entries were in force and nothing they describe happened (a
    failure under ``--lstm-strict-xfails``), unless every one of them is a difference only some
    inputs show (``always=False``): then it passed. Any other failure stays a failure, and a skip
    decided inside the law (a training law stopped) stays a skip."""
    entries = item.stash.get(_ACTIVE, ())
    if not entries or report.skipped:
        return
    reason = "; ".join(dict.fromkeys(e.reason for e in entries))
    if report.failed:
        exc = call.excinfo.value if call.excinfo else None
        if exc is None or not any(e.matches_exception(exc) for e in entries):
            return
        observed = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    elif seen.absorbed:
        more = len(seen.absorbed) - 1
        observed = seen.absorbed[0] + (f" (and {more} more violation{'s' * (more > 1)} it matched)" if more else "")
    elif not any(e.always for e in entries):  # differences only some inputs show: these examples did not
        return
    else:
        report.wasxfail = reason
        report.user_properties.append(("lstm_outcome", "xpassed"))
        if options_from_pytest(item.config).strict_xfails:
            report.outcome, report.longrepr = "failed", f"[XPASS(strict)] the expected failure did not happen: {reason}"
        return
    report.outcome, report.wasxfail = "skipped", reason
    report.user_properties += [("lstm_outcome", "xfailed"), ("lstm_observed", observed)]
