"""For a third party's own code: :func:`check_impl` (pytest-free, returns results) and
:func:`parametrize_with_impls` (a decorator for their own test file)."""

from __future__ import annotations

import contextlib
import json
import tempfile
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import pytest
from hypothesis import settings

import properties
from lstm_verify.adapters import Adapter
from lstm_verify.config import DEFAULT_PROFILE, DTYPES, options_from_env
from lstm_verify.expected import Expected, read_expected, unmatched
from lstm_verify.implementation import Implementation
from lstm_verify.reference import Variant
from lstm_verify.variants import spell_variant
from lstm_verify.results import Result
from lstm_verify.runner import run_suite
from lstm_verify.targets import adapters_for, resolve, target_adapters


def check_impl(target: Any, kind: str = "torch-cell", *, layout: str | None = None, via: str | None = None,
               runtime: str | None = None, device: str | None = None, variant: str | Variant | None = None,
               dtypes: Iterable[str] = DTYPES, precision: str | None = None, profile: str = DEFAULT_PROFILE,
               xfail: str | Path | Iterable[Expected] | None = None, strict_xfails: bool = False,
               workers: int | str = 0) -> list[Result]:
    """Run the whole suite on ``target`` and return one :class:`Result` per property, implementation
    and dtype (an ONNX model: one implementation per LSTM node).

    ``target`` is a ``module:attr`` / ``file.py:attr`` string (any number of workers), the class or
    function itself, or an :class:`~lstm_verify.adapters.Adapter` instance of your own (both run in
    this process). ``via="onnx"``: a ``torch-lstm`` class checked through torch.onnx.export and
    onnxruntime; ``runtime``: ``kind="onnx"``'s runtime; ``device``: where it runs (``"cuda"``,
    ``"gpu:1"``, ...: :mod:`lstm_verify.devices`; default the CPU). ``variant``: the cell it computes, a
    :class:`~lstm_verify.reference.Variant` or ``--variant``'s spelling (``"peepholes,clip=3:cell"``),
    replacing what it declares. ``precision``: what it promises beyond its
    dtype (``"tf32"``, ...; :data:`lstm_verify.error_model.PRECISIONS`), default IEEE. ``xfail``: a
    TOML file of expected failures, or :class:`~lstm_verify.expected.Expected` entries. Keywords left
    out take their ``LSTM_VERIFY_*`` environment variable, as on the command line. Results are
    returned whatever they say: :func:`lstm_verify.results.exit_status` gives the command line's
    verdict on them (3: nothing was checked)."""
    entries = list(xfail) if xfail is not None and not isinstance(xfail, (str, Path)) else None
    variant = spell_variant(variant) if isinstance(variant, Variant) else variant
    with _entries_file(entries) as written:
        path = written or (str(xfail) if xfail is not None else None)
        options = options_from_env(kind=kind, layout=layout, via=via, runtime=runtime, device=device,
                                   variant=variant, dtypes=",".join(dtypes), precision=precision, profile=profile,
                                   xfail=path, strict_xfails=strict_xfails)
        declared = entries if entries is not None else read_expected(path) if path else []
        if isinstance(target, str):
            # fail here, in one line, if it cannot load
            target_adapters(target, kind, layout, via=via, runtime=options.runtime, device=options.device,
                            variant=variant)
            results = run_suite(replace(options, impl=resolve(target)), workers)[1]
        else:
            adapters = [target] if isinstance(target, Adapter) else adapters_for(
                target, kind, layout, via=via, runtime=options.runtime, device=options.device, variant=variant)
            results = run_suite(options, adapters=adapters)[1]
    for key in unmatched(declared, [(r.property, r.implementation) for r in results]):
        warnings.warn(f"expected-failure entry {key} matches no check", UserWarning, stacklevel=2)
    return results


@contextlib.contextmanager
def _entries_file(entries: list[Expected] | None) -> Iterator[str | None]:
    """``entries`` written to a temporary TOML file for the run (None: nothing to write)."""
    if entries is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="lstm-verify-") as folder:
        path = Path(folder) / "expected.toml"
        if any(e.computes for e in entries):
            raise ValueError("an entry's computes is an adapter's to declare (known_differences), not a run's")
        path.write_text("".join("[[expected]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in vars(e).items()
                                                    if v not in ("", None)) for e in entries))
        yield str(path)


class Law:
    """One property bound to its name; call it with an implementation."""

    def __init__(self, name: str, fn: Callable) -> None:
        self.name, self.fn = name, fn

    def __repr__(self) -> str:
        return self.name

    def __call__(self, impl: Implementation) -> None:
        __tracebackhide__ = True
        reason = properties.skip_reason(self.fn, impl, settings.get_current_profile_name())
        if reason:
            pytest.skip(reason)
        self.fn(impl=impl)


def parametrize_with_impls(targets: Iterable[Any], kind: str = "torch-cell", layout: str | None = None,
                           dtypes: Iterable[str] = DTYPES, precision: str | None = None, *,
                           via: str | None = None, runtime: str | None = None,
                           device: str | None = None) -> pytest.MarkDecorator:
    """Parametrise a test over (implementation, law) pairs, ids ``law[name-dtype]``::

        @parametrize_with_impls([MyCell], kind="torch-cell")
        def test_my_cell(impl, law):
            law(impl)
    """
    def load(target: Any) -> list[Adapter]:
        return (target_adapters if isinstance(target, str) else adapters_for)(target, kind, layout, via=via,
                                                                              runtime=runtime, device=device)
    impls = [Implementation(a, d, declared_precision=precision) for t in targets for a in load(t) for d in dtypes]
    laws = [Law(name, fn) for name, fn in properties.collect().items()]
    return pytest.mark.parametrize("impl, law", [pytest.param(i, law, id=f"{law.name}[{i.id}]")
                                                 for i in impls for law in laws])
