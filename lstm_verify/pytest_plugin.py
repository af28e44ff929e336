"""The pytest plugin: chooses the implementations and the hypothesis profile, parametrises
the properties over them, skips what an implementation cannot serve (with the reason),
marks the adopter's expected failures, and adds a reproducer to every failure.
Registered through the ``pytest11`` entry point; every option has an environment variable.
"""

from __future__ import annotations

import os
import re
import warnings

import pytest
from hypothesis import HealthCheck, settings

from lstm_verify.adapters import BUILTIN, Adapter, builtin_adapter
from lstm_verify.guard import DEFAULT_TIME_LIMIT
from lstm_verify.implementation import Implementation
from lstm_verify.targets import KINDS, TargetError, target_adapter
from lstm_verify.xfails import XfailError, match, read_xfails, unmatched

PROFILES = {
    "dev": dict(max_examples=8),
    "ci": dict(max_examples=25, derandomize=True, print_blob=True),
    "thorough": dict(max_examples=300),
}
DTYPES = ("float32", "float64")

for _name, _options in PROFILES.items():
    settings.register_profile(_name, deadline=None, report_multiple_bugs=False,
                              suppress_health_check=[HealthCheck.too_slow], **_options)

_INJECTED: list[Adapter] = []
"""Adapters handed over in-process by :func:`lstm_verify.api.check_impl` (no xdist)."""
_IMPLS = pytest.StashKey[list]()
_XFAILS = pytest.StashKey[dict]()


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"LSTM_VERIFY_{name}", default)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lstm-verify", "LSTM conformance properties")
    group.addoption("--lstm-impl", default=_env("IMPL"), metavar="TARGET",
                    help="check TARGET (package.module:attr or path/file.py:attr) instead of the built-in "
                         "adapters; env LSTM_VERIFY_IMPL")
    group.addoption("--lstm-kind", default=_env("KIND", "torch-cell"), choices=KINDS,
                    help="what TARGET is; env LSTM_VERIFY_KIND")
    group.addoption("--lstm-layout", default=_env("LAYOUT"), metavar="ORDER",
                    help="TARGET's gate-block order if not ifgo (e.g. iofc); env LSTM_VERIFY_LAYOUT")
    group.addoption("--lstm-adapters", default=_env("ADAPTERS", "all"),
                    help=f"comma-separated built-in adapters, or 'all' ({', '.join(BUILTIN)}); "
                         "env LSTM_VERIFY_ADAPTERS")
    group.addoption("--lstm-dtypes", default=_env("DTYPES", ",".join(DTYPES)),
                    help="comma-separated dtypes; env LSTM_VERIFY_DTYPES")
    group.addoption("--lstm-profile", choices=sorted(PROFILES),
                    default=_env("PROFILE", "ci" if os.environ.get("CI") else "dev"),
                    help="hypothesis profile: dev (quick), ci (derandomized), thorough; env LSTM_VERIFY_PROFILE")
    group.addoption("--lstm-xfail", default=_env("XFAIL"), metavar="FILE",
                    help="expected failures, 'property-id: reason' per line; env LSTM_VERIFY_XFAIL")
    group.addoption("--lstm-timeout", type=float, default=float(_env("TIMEOUT", str(DEFAULT_TIME_LIMIT))),
                    help="seconds one call into the implementation may take; env LSTM_VERIFY_TIMEOUT")


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def selected_adapters(config: pytest.Config) -> list[Adapter]:
    """The adapters chosen by the options: a target, injected ones, or built-ins."""
    if _INJECTED:
        return list(_INJECTED)
    target = config.getoption("--lstm-impl")
    if target:
        try:
            return [target_adapter(target, config.getoption("--lstm-kind"), config.getoption("--lstm-layout"))]
        except TargetError as exc:
            raise pytest.UsageError(str(exc)) from None
    names = _split(config.getoption("--lstm-adapters"))
    names = list(BUILTIN) if names == ["all"] else names
    unknown = sorted(set(names) - set(BUILTIN))
    if unknown:
        raise pytest.UsageError(f"unknown adapter(s) {', '.join(unknown)}; known: {', '.join(BUILTIN)}")
    return [builtin_adapter(n) for n in names]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requires(capability): skip for implementations without it")
    settings.load_profile(config.getoption("--lstm-profile"))
    limit = config.getoption("--lstm-timeout")
    config.stash[_IMPLS] = [Implementation(a, d, limit) for a in selected_adapters(config)
                            for d in _split(config.getoption("--lstm-dtypes"))]
    path = config.getoption("--lstm-xfail")
    try:
        config.stash[_XFAILS] = read_xfails(path) if path else {}
    except XfailError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [f"lstm-verify: hypothesis profile {config.getoption('--lstm-profile')}, "
             f"dtypes {config.getoption('--lstm-dtypes')}"]
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    entries = config.stash[_XFAILS]
    checks = []
    for item in items:
        impl = _impl(item)
        if impl is None:
            continue
        checks.append((item.originalname, impl.id))
        reason = match(entries, item.originalname, impl.id) or impl.adapter.known_differences(impl.dtype).get(
            item.originalname)
        if reason:
            item.add_marker(pytest.mark.xfail(reason=reason, strict=False))
    for key in unmatched(entries, checks):
        warnings.warn(pytest.PytestWarning(f"expected-failure entry {key!r} matches no check"), stacklevel=2)


def pytest_runtest_setup(item: pytest.Item) -> None:
    impl = _impl(item)
    if impl is None:
        return
    item.user_properties += [("lstm_impl", impl.id), ("lstm_property", item.originalname)]
    reason = impl.skip_reason()
    if reason:
        pytest.skip(reason)
    for mark in item.iter_markers("requires"):
        for capability in mark.args:
            if not getattr(impl.capabilities, capability):
                pytest.skip(f"{impl.adapter.name} declares no {capability} capability")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    report = yield
    if _impl(item) is None or report.when != "call":
        return report
    stats = getattr(item, "hypothesis_statistics", "")  # "N passing examples" (older) or "N passing," (newer)
    examples = sum(int(n) for n in re.findall(r"(\d+) passing\b", stats))
    report.user_properties.append(("lstm_examples", examples))
    if report.failed:
        options = " ".join(f"{o} {item.config.getoption(o)}" for o in
                           ("--lstm-impl", "--lstm-kind", "--lstm-layout", "--lstm-profile")
                           if item.config.getoption(o) and (o != "--lstm-kind" or item.config.getoption("--lstm-impl")))
        node = f"{item.module.__name__}::{item.name}"
        report.sections.append(("reproduce", f"pytest --pyargs '{node}' {options}"
                                             "  (hypothesis replays the failing example)"))
    return report
