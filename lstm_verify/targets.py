"""Loading an implementation the kit did not ship with: ``TARGET`` + ``--kind``.

``TARGET`` is ``package.module:attr`` or ``path/to/file.py:attr``. The kind says what the
attribute is and so which adapter wraps it:

==============  ===============================================================  ==========
kind            TARGET is                                                        gradients
==============  ===============================================================  ==========
``torch-cell``  a class ``Cls(input_size, hidden_size)`` with nn.LSTMCell's      yes
                parameters and call ``cell(x, (h, c)) -> (h, c)``, state optional
``torch-lstm``  an nn.LSTM-compatible class (one layer, sequence-first)          yes
``numpy-step``  ``step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh)``        no
``jax-step``    ``step(params, x, (h, c)) -> (h, c)``, params a dict with        yes
                ``weight_ih, weight_hh, bias_ih, bias_hh``
==============  ===============================================================  ==========

``layout`` names the gate-block order of the stored weights when it is not torch's
``ifgo`` (``c`` may stand for ``g``: ONNX's order is ``iofc``).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from lstm_verify.adapters import Adapter
from lstm_verify.layouts import TORCH, Layout

KINDS = ("torch-cell", "torch-lstm", "numpy-step", "jax-step")


class TargetError(Exception):
    """TARGET or its options cannot be used; the message is one line for the user."""


def resolve(spec: str) -> str:
    """Make a ``path.py:attr`` spec absolute, so pytest-xdist workers find it too."""
    module, sep, attr = spec.rpartition(":")
    if sep and module.endswith(".py"):
        return f"{Path(module).resolve()}:{attr}"
    return spec


def load_object(spec: str) -> Any:
    """Import ``package.module:attr`` or ``path/to/file.py:attr`` and return the attribute."""
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        raise TargetError(f"TARGET must look like package.module:attr or path/to/file.py:attr, got {spec!r}")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise TargetError(f"no such file: {module_name}")
            name = f"_lstm_verify_target_{path.stem}"
            if name not in sys.modules:
                module_spec = importlib.util.spec_from_file_location(name, path)
                module = importlib.util.module_from_spec(module_spec)
                sys.modules[name] = module
                module_spec.loader.exec_module(module)
            module = sys.modules[name]
        else:
            module = importlib.import_module(module_name)
    except TargetError:
        raise
    except Exception as exc:  # the target's own import failed: report it in one line
        raise TargetError(f"cannot import {module_name}: {type(exc).__name__}: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise TargetError(f"{module_name} has no attribute {attr!r}") from None


def parse_layout(order: str | None) -> Layout:
    """A torch-shaped layout with the given gate-block order (``c`` is accepted for ``g``)."""
    if not order:
        return TORCH
    gates = order.lower().replace("c", "g")
    try:
        return Layout(f"order-{order}", gate_order=gates)
    except ValueError:
        raise TargetError(f"--layout must be an order of the letters i, f, g (or c), o; got {order!r}") from None


def adapter_for(obj: Any, kind: str, layout: str | None = None, name: str | None = None) -> Adapter:
    """The adapter that runs ``obj`` (a class or a function) as ``kind``."""
    if kind not in KINDS:
        raise TargetError(f"--kind must be one of {', '.join(KINDS)}; got {kind!r}")
    if not callable(obj):
        raise TargetError(f"the target is not callable (a {type(obj).__name__})")
    name = name or getattr(obj, "__name__", kind)
    lay = parse_layout(layout)
    if kind == "torch-cell":
        from lstm_verify.adapters.torch_cell import TorchCellAdapter
        return TorchCellAdapter(obj, name, lay)
    if kind == "torch-lstm":
        from lstm_verify.adapters.torch_lstm import TorchLSTMAdapter
        return TorchLSTMAdapter(obj, name, lay)
    if kind == "numpy-step":
        from lstm_verify.adapters.numpy_step import NumpyStepAdapter
        return NumpyStepAdapter(obj, name, lay)
    from lstm_verify.adapters.jax_step import JaxStepAdapter
    return JaxStepAdapter(obj, name, lay)


def target_adapter(spec: str, kind: str, layout: str | None = None) -> Adapter:
    """The adapter that runs TARGET (``module:attr`` or ``file.py:attr``) as ``kind``."""
    if kind not in KINDS:
        raise TargetError(f"--kind must be one of {', '.join(KINDS)}; got {kind!r}")
    return adapter_for(load_object(spec), kind, layout, spec.rpartition(":")[2])
