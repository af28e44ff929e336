"""For a third party's own code: :func:`check_impl` (pytest-free, returns results) and
:func:`parametrize_with_impls` (a decorator for their own test file)."""

from __future__ import annotations

import warnings
from typing import Any, Callable, Iterable

import pytest
from hypothesis import settings

import properties
from lstm_verify import pytest_plugin
from lstm_verify.adapters import Adapter
from lstm_verify.implementation import Implementation
from lstm_verify.runner import Result, run_suite
from lstm_verify.targets import adapters_for, resolve, target_adapters
from lstm_verify.xfails import read_xfails, unmatched


def check_impl(target: Any, kind: str = "torch-cell", *, layout: str | None = None, via: str | None = None,
               runtime: str | None = None, dtypes: Iterable[str] = pytest_plugin.DTYPES, precision: str | None = None,
               profile: str = "ci", xfail: str | None = None, workers: int | str = 0) -> list[Result]:
    """Run the whole suite on ``target`` and return one :class:`Result` per property, implementation
    and dtype (an ONNX model: one implementation per LSTM node).

    ``target`` is a ``module:attr`` / ``file.py:attr`` string (any number of workers) or the
    class or function itself (run in this process). ``via="onnx"``: a ``torch-lstm`` class checked
    through torch.onnx.export and onnxruntime; ``runtime``: ``kind="onnx"``'s runtime.
    ``precision``: what it promises beyond its dtype (``"tf32"``, ...;
    :data:`lstm_verify.error_model.PRECISIONS`), default IEEE."""
    options = {"--lstm-dtypes": ",".join(dtypes), "--lstm-profile": profile, "--lstm-xfail": xfail,
               "--lstm-kind": kind, "--lstm-layout": layout, "--lstm-precision": precision}
    entries = read_xfails(xfail) if xfail else {}
    if isinstance(target, str):
        target_adapters(target, kind, layout, via=via, runtime=runtime)  # fail here, in one line, if it cannot load
        results = run_suite({**options, "--lstm-impl": resolve(target), "--lstm-via": via, "--lstm-runtime": runtime},
                            workers)[1]
    else:
        pytest_plugin._INJECTED[:] = adapters_for(target, kind, layout, via=via, runtime=runtime)
        try:
            results = run_suite(options)[1]
        finally:
            pytest_plugin._INJECTED.clear()
    for key in unmatched(entries, [(r.property, r.implementation) for r in results]):
        warnings.warn(f"expected-failure entry {key!r} matches no check", UserWarning, stacklevel=2)
    return results


class Law:
    """One property bound to its name; call it with an implementation."""

    def __init__(self, name: str, fn: Callable) -> None:
        self.name, self.fn = name, fn

    def __repr__(self) -> str:
        return self.name

    def __call__(self, impl: Implementation) -> None:
        __tracebackhide__ = True
        reason = impl.skip_reason()
        missing = properties.missing_capabilities(self.fn, impl)
        if reason or missing:
            pytest.skip(reason or f"{impl.adapter.name} declares no {', '.join(missing)} capability")
        reason = properties.profile_skip(self.fn, settings.get_current_profile_name())
        if reason:
            pytest.skip(reason)
        self.fn(impl=impl)


def parametrize_with_impls(targets: Iterable[Any], kind: str = "torch-cell", layout: str | None = None,
                           dtypes: Iterable[str] = pytest_plugin.DTYPES, precision: str | None = None, *,
                           via: str | None = None, runtime: str | None = None) -> pytest.MarkDecorator:
    """Parametrise a test over (implementation, law) pairs, ids ``law[name-dtype]``::

        @parametrize_with_impls([MyCell], kind="torch-cell")
        def test_my_cell(impl, law):
            law(impl)
    """
    def load(target: Any) -> list[Adapter]:
        return (target_adapters if isinstance(target, str) else adapters_for)(target, kind, layout, via=via,
                                                                              runtime=runtime)
    impls = [Implementation(a, d, declared_precision=precision) for t in targets for a in load(t) for d in dtypes]
    laws = [Law(name, fn) for name, fn in properties.collect().items()]
    return pytest.mark.parametrize("impl, law", [pytest.param(i, law, id=f"{law.name}[{i.id}]")
                                                 for i in impls for law in laws])
