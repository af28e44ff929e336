"""The pytest plugin: chooses implementations and the hypothesis profile, parametrises the
properties over them, skips what an implementation cannot serve (with the reason), and
adds a reproducer to every failure. Registered through the ``pytest11`` entry point."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from lstm_verify.adapters import BUILTIN, builtin_adapter
from lstm_verify.implementation import Implementation

PROFILES = {
    "dev": dict(max_examples=8),
    "ci": dict(max_examples=25, derandomize=True, print_blob=True),
    "thorough": dict(max_examples=300),
}
DTYPES = ("float32", "float64")

for _name, _options in PROFILES.items():
    settings.register_profile(_name, deadline=None, report_multiple_bugs=False,
                              suppress_health_check=[HealthCheck.too_slow], **_options)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lstm-verify")
    group.addoption("--lstm-adapters", default=os.environ.get("LSTM_VERIFY_ADAPTERS", "all"),
                    help=f"comma-separated adapters to check, or 'all' ({', '.join(BUILTIN)}); "
                         "env LSTM_VERIFY_ADAPTERS")
    group.addoption("--lstm-dtypes", default=os.environ.get("LSTM_VERIFY_DTYPES", ",".join(DTYPES)),
                    help="comma-separated dtypes; env LSTM_VERIFY_DTYPES")
    group.addoption("--lstm-profile", choices=sorted(PROFILES),
                    default=os.environ.get("LSTM_VERIFY_PROFILE", "ci" if os.environ.get("CI") else "dev"),
                    help="hypothesis profile: dev (quick), ci (derandomized), thorough; env LSTM_VERIFY_PROFILE")


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def selected_implementations(config: pytest.Config) -> list[Implementation]:
    """The implementations chosen on the command line, in a stable order."""
    names = _split(config.getoption("--lstm-adapters"))
    if names == ["all"]:
        names = list(BUILTIN)
    unknown = sorted(set(names) - set(BUILTIN))
    if unknown:
        raise pytest.UsageError(f"unknown adapter(s) {', '.join(unknown)}; known: {', '.join(BUILTIN)}")
    adapters = [builtin_adapter(n) for n in names]
    return [Implementation(a, d) for a in adapters for d in _split(config.getoption("--lstm-dtypes"))]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requires(capability): skip for implementations without it")
    settings.load_profile(config.getoption("--lstm-profile"))
    config.stash[_IMPLS] = selected_implementations(config)


_IMPLS = pytest.StashKey[list]()


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [f"lstm-verify: hypothesis profile {config.getoption('--lstm-profile')}"]
    seen = set()
    for impl in config.stash[_IMPLS]:
        if impl.adapter.name not in seen:
            seen.add(impl.adapter.name)
            lines.append(f"  {impl.adapter.name}: {impl.adapter.unavailable() or impl.adapter.version()}")
    return lines


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "impl" in metafunc.fixturenames:
        impls = metafunc.config.stash[_IMPLS]
        metafunc.parametrize("impl", impls, ids=[i.id for i in impls])


def pytest_runtest_setup(item: pytest.Item) -> None:
    impl = getattr(item, "callspec", None) and item.callspec.params.get("impl")
    if not isinstance(impl, Implementation):
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
    if report.failed and "lstm_impl" in dict(item.user_properties):
        profile = item.config.getoption("--lstm-profile")
        report.sections.append(("reproduce", f"pytest '{item.nodeid}' --lstm-profile {profile}"
                                             f" -p no:randomly   (hypothesis replays the failing example)"))
    return report
