"""Loading an implementation the kit did not ship with: ``TARGET`` + ``--kind``.

``TARGET`` is ``package.module:attr`` or ``path/to/file.py:attr``. The kind says what the
attribute is and so which adapter wraps it:

==============  ===============================================================  ==========
kind            TARGET is                                                        gradients
==============  ===============================================================  ==========
``torch-cell``  a class ``Cls(input_size, hidden_size)`` holding the parameters  yes
                as attributes, called ``cell(x, (h, c)) -> (h, c)``, state
                optional
``torch-lstm``  an nn.LSTM-compatible class (sequence-first), the parameters     yes
                as attributes with ``_l0``
``numpy-step``  ``step(x, h, c, *weights) -> (h, c)``, the parameters            no
                positional in :data:`~lstm_verify.adapters.numpy_step.ARGUMENTS`
                order
``jax-step``    ``step(params, x, (h, c)) -> (h, c)``, ``params`` a dict         yes
``tf-step``     the same on TensorFlow tensors                                  yes
``adapter``     an :class:`~lstm_verify.adapters.Adapter` subclass of your own   as declared
==============  ===============================================================  ==========

Parameters are named by :data:`~lstm_verify.layouts.TARGET_NAMES` (``weight_ih`` ...), stored as
``layout`` says: a named layout (:data:`~lstm_verify.layouts.KNOWN`: ``haiku``, ``keras`` ...) or a
gate-block order for torch's shapes (``c`` may stand for ``g``: ONNX's order is ``iofc``);
:func:`layout_table` lists their shapes. Function kinds declare what else they support with
:func:`capabilities`, and the ``clip`` their cell computes; a function returning an ONNX model
declares the reading of its nodes' ``clip`` to check there.

``onnx`` takes an ONNX model and yields one adapter per ``LSTM`` node (:func:`onnx_adapters`);
``--via onnx`` checks a ``torch-lstm`` class through ``torch.onnx.export`` and onnxruntime,
``--via tf2onnx`` a ``tf-step`` function through ``tf2onnx.convert.from_function`` and onnxruntime,
``--via tflite`` one through ``tf.lite.TFLiteConverter`` and LiteRT's interpreter.
``--device`` runs a TARGET of a kind with a framework (:attr:`Kind.framework`) on an accelerator
(:mod:`lstm_verify.devices`).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np

from lstm_verify.adapters import Adapter, Capabilities
from lstm_verify.devices import Device, DeviceError, parse_device
from lstm_verify.dtypes import STORAGE
from lstm_verify.layouts import KNOWN, TARGET_NAMES, TORCH, Layout
from lstm_verify.params import Params
from lstm_verify.reference import CLIP_READINGS, PLAIN, Variant
from lstm_verify.variants import parse_variant

RUNTIMES = ("onnxruntime", "onnx-reference", "openvino", "opencv", "tract")
"""The ONNX runtimes ``--kind onnx`` runs a model's LSTM nodes on (``--runtime``, env LSTM_VERIFY_RUNTIME)."""
VIAS = {"onnx": "torch-lstm", "tf2onnx": "tf-step", "tflite": "tf-step"}
"""What ``--via`` takes, and the kind it converts: ``onnx`` checks a ``torch-lstm`` TARGET exported with
torch.onnx.export, ``tf2onnx`` a ``tf-step`` TARGET converted by tf2onnx, each run by onnxruntime;
``tflite`` a ``tf-step`` TARGET converted by TFLiteConverter and run by LiteRT."""


class TargetError(Exception):
    """TARGET or its options cannot be used; the message is one line for the user."""


def resolve(spec: str) -> str:
    """Make a ``path.py:attr`` spec absolute, so pytest-xdist workers find it too."""
    module, sep, attr = spec.rpartition(":")
    if sep and module.endswith(".py"):
        return f"{Path(module).resolve()}:{attr}"
    if spec.endswith(".onnx"):
        return str(Path(spec).resolve())
    return spec


def _existing(path: str) -> Path:
    if not Path(path).is_file():
        raise TargetError(f"no such file: {path}")
    return Path(path)


def _spec_parts(spec: str, kind: str | None = None) -> tuple[str, str]:
    """``(module, attr)`` of ``package.module:attr`` or ``path/to/file.py:attr`` (the file must exist)."""
    if spec.endswith(".onnx"):
        raise TargetError(f"{spec} is an ONNX model: check it with --kind onnx"
                          + (f", not --kind {kind}{_DEFAULT_NOTE[kind]}" if kind in KIND_REGISTRY else ""))
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        raise TargetError(f"TARGET must look like package.module:attr or path/to/file.py:attr, got {spec!r}")
    if module_name.endswith(".py"):
        _existing(module_name)
    return module_name, attr


def load_object(spec: str) -> Any:
    """Import ``package.module:attr`` or ``path/to/file.py:attr`` and return the attribute."""
    module_name, attr = _spec_parts(spec)
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            folder = str(path.resolve().parent)  # its folder is importable, as pytest's rootdir is: a module beside it loads
            if folder not in sys.path:
                sys.path.insert(0, folder)
            name = f"_lstm_verify_target_{path.stem}_{zlib.crc32(str(path.resolve()).encode()):08x}"  # one per file
            if name not in sys.modules:
                module_spec = importlib.util.spec_from_file_location(name, path)
                module = importlib.util.module_from_spec(module_spec)
                sys.modules[name] = module
                try:
                    module_spec.loader.exec_module(module)
                except BaseException:  # a later load tries again and fails the same way, never half-imported
                    del sys.modules[name]
                    raise
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


def parse_layout(spec: str | None) -> Layout:
    """A named layout (``haiku``, ``keras`` ...), or torch's shapes with the given gate-block order
    (``iofc``; ``c`` is accepted for ``g``)."""
    if not spec:
        return TORCH
    if spec.lower() in KNOWN:
        return KNOWN[spec.lower()]
    try:
        return Layout(f"order-{spec}", gate_order=spec.lower().replace("c", "g"))
    except ValueError:
        raise TargetError(f"--layout must be an order of the letters i, f, g (or c), o, or a named layout "
                          f"({', '.join(KNOWN)}); got {spec!r}") from None


def native_shapes(layout: Layout, peepholes: bool = False) -> dict[str, str]:
    """The shape of each parameter a TARGET receives in ``layout`` (with ``peepholes``, the cell's
    ``weight_peephole`` too), by its name, in symbols."""
    inputs, hidden = 5, 7  # distinct sizes, so that every number stands for one symbol
    symbols = {inputs: "I", hidden: "H", 3 * hidden: "3H", 4 * hidden: "4H",
               inputs + hidden: "I+H" if layout.fused == "xh" else "H+I"}
    params = Params.zeros(inputs, hidden)
    native = layout.to_native(replace(params, p=np.zeros(3 * hidden)) if peepholes else params)
    return {TARGET_NAMES[k]: "(" + ", ".join(symbols[n] for n in v.shape) + ")" for k, v in native.items()}


def layout_table() -> str:
    """Every ``--layout`` and the parameters a TARGET receives in it, as a Markdown table: with
    ``peepholes`` in its variant, also ``weight_peephole`` (3H), the blocks p_i, p_f, p_o in the
    layout's gate order without g."""
    rows = ["| `--layout` | gate blocks | parameters (torch-lstm: name + `_l0`) | forget gate | "
            "`weight_peephole` (3H) blocks |",
            "| --- | --- | --- | --- | --- |"]
    named = [(f"`{name}`", " ".join(layout.gate_order), layout) for name, layout in KNOWN.items()]
    for spec, gates, layout in [*named, ("an order: `iofc`, `ifog` ...", "as given", TORCH)]:
        shapes = ", ".join(f"`{name}` {shape}" for name, shape in native_shapes(layout).items())
        offset = f"σ(z + {layout.forget_offset:g})" if layout.forget_offset else "σ(z)"
        peepholes = "as given, without g" if spec.startswith("an order") else " ".join(layout.peephole_order)
        rows.append(f"| {spec} | {gates} | {shapes} | {offset} | {peepholes} |")
    return "\n".join(rows)


F = TypeVar("F", bound=Callable)
DECLARED = "lstm_verify_capabilities"
"""The function attribute :func:`capabilities` sets (a dict; it may be set by hand)."""


def capabilities(*, optional_state: bool = False, unbatched: bool = False, sequence: Callable | None = None,
                 lengths: bool = False, reverse: bool = False, dtypes: tuple[str, ...] | None = None,
                 variant: Variant = PLAIN, clip: float | None = None, clip_reading: str = "spec"
                 ) -> Callable[[F], F]:
    """Declare what a ``numpy-step``, ``jax-step`` or ``tf-step`` function supports, so the laws that need it run::

        @lstm_verify.capabilities(optional_state=True, unbatched=True, sequence=run, reverse=True)
        def step(params, x, state): ...

    ``optional_state``: called with the state None, it starts from its own initial state (the
    step, and the declared sequence API, which then gets ``h = c = None`` or ``None``).
    ``unbatched``: takes x (I,) with a state (H,). ``sequence``: the function's sequence API,
    ``sequence(xs, h, c, *weights)`` (numpy-step) or ``sequence(params, xs, (h, c))`` (jax-step, tf-step),
    xs (T, B, I), returning ``(hs (T, B, H), (h_T, c_T))``; ``lengths`` / ``reverse``: it takes
    ``lengths=`` (B,) of a right-padded batch / ``reverse=True`` (outputs in input time order).
    ``dtypes``: the storage dtypes it computes in, of :data:`~lstm_verify.dtypes.STORAGE`
    (default: float32 and float64 for numpy-step, all four for jax-step and tf-step); a numpy-step function
    declaring ``bfloat16`` receives and must return ``ml_dtypes.bfloat16`` arrays.
    ``variant``: the cell it computes, a :class:`~lstm_verify.reference.Variant` (peepholes, clip in
    one of the :data:`~lstm_verify.reference.CLIP_READINGS`, coupled input and forget gates, other
    activations); every law holds it to that cell, and one with peepholes receives them as
    ``weight_peephole`` (:func:`layout_table`). A torch-cell or torch-lstm class declares its
    ``variant`` alone. ``clip``, ``clip_reading``: shorthand for ``variant=Variant(clip=...,
    clip_reading=...)`` (and folded into ``variant``). For ``--kind onnx`` (a function returning the
    model) ``clip_reading`` alone: the reading its nodes' ``clip`` is checked in (default the
    specification's)."""
    declared = {"optional_state": optional_state, "unbatched": unbatched, "sequence": sequence,
                "lengths": lengths, "reverse": reverse, "dtypes": dtypes, "variant": variant, "clip": clip,
                "clip_reading": clip_reading}

    def mark(fn: F) -> F:
        setattr(fn, DECLARED, declared)
        return fn
    return mark


def target_variant(spelled: str | Variant | None) -> Variant | None:
    """The variant ``--variant`` (or ``check_impl(variant=)``) gives, None when it gives none; a
    TargetError, in one line, for a spelling :func:`~lstm_verify.variants.parse_variant` does not read."""
    if spelled is None or spelled == "" or isinstance(spelled, Variant):
        return spelled or None
    try:
        return parse_variant(spelled)
    except ValueError as exc:
        raise TargetError(f"--variant: {exc}") from None


def declared_variant(declared: dict[str, Any], given: Variant | None) -> Variant:
    """The cell a TARGET computes: ``given`` (``--variant``) if any, else what it declares with
    :func:`capabilities` (``variant``, and ``clip`` / ``clip_reading`` folded into it)."""
    variant, clip, reading = declared.get("variant", PLAIN), declared.get("clip"), declared.get("clip_reading", "spec")
    if not isinstance(variant, Variant):
        raise TargetError(f"the declared variant must be an lstm_verify.Variant, got a {type(variant).__name__}")
    if clip is not None and variant.clip is not None:
        raise TargetError("the declared clip is given twice: as clip= and in variant=")
    if reading not in CLIP_READINGS:
        raise TargetError(f"the declared clip_reading must be one of {', '.join(CLIP_READINGS)}; got {reading!r}")
    if clip is not None:
        variant = replace(variant, clip=clip, clip_reading=reading)
    return variant if given is None else given


def _declared(obj: Any) -> dict[str, Any]:
    """What ``obj`` declares with :func:`capabilities`, its names checked."""
    declared = dict(getattr(obj, DECLARED, {}))
    known = tuple(inspect.signature(capabilities).parameters)
    unknown = sorted(set(declared) - set(known))
    if unknown:
        raise TargetError(f"{DECLARED} declares unknown capabilities {', '.join(unknown)}; known: {', '.join(known)}")
    return declared


def declared_capabilities(fn: Callable, variant: Variant | None = None, **fixed: object
                          ) -> tuple[Capabilities, Callable | None]:
    """The capabilities a function kind's TARGET declares (on top of the kind's ``fixed`` ones;
    ``variant``, ``--variant``'s, replaces the declared one), and its sequence function."""
    declared = _declared(fn)
    sequence = declared.pop("sequence", None)
    if sequence is not None and not callable(sequence):
        raise TargetError(f"the declared sequence must be a function, got a {type(sequence).__name__}")
    if sequence is None and (declared.get("lengths") or declared.get("reverse")):
        raise TargetError("lengths and reverse are capabilities of a sequence function: declare sequence= too")
    dtypes = declared.pop("dtypes", None)
    if dtypes is not None:
        dtypes = (dtypes,) if isinstance(dtypes, str) else tuple(dtypes)
        unknown = [d for d in dtypes if d not in STORAGE]
        if unknown or not dtypes:
            raise TargetError(f"the declared dtypes must be some of {', '.join(STORAGE)}; got {', '.join(unknown) or 'none'}")
        fixed = {**fixed, "dtypes": dtypes}
    variant = declared_variant(declared, variant)
    for name in ("variant", "clip", "clip_reading"):
        declared.pop(name, None)
    flags = {"optional_state": False, **{k: bool(v) for k, v in declared.items()}}
    return Capabilities(sequence=sequence is not None, variant=variant, **fixed, **flags), sequence


def _callable(obj: Any) -> None:
    if not callable(obj):
        raise TargetError(f"the target is not callable (a {type(obj).__name__})")


def _with_variant(adapter: Adapter, obj: Any, variant: Variant | None) -> list[Adapter]:
    """A torch kind's adapter computing the variant its class declares (``variant``, ``clip`` and
    ``clip_reading`` only: the kind fixes the rest), or ``variant`` (``--variant``)."""
    declared = _declared(obj)
    others = sorted(set(declared) - {"variant", "clip", "clip_reading"})
    if others:
        raise TargetError(f"a torch-cell or torch-lstm class declares its variant alone, not {', '.join(others)}")
    adapter.capabilities = replace(adapter.capabilities, variant=declared_variant(declared, variant))
    return [adapter]


def _torch_cell(obj: Any, name: str, layout: Layout, via: str | None, runtime: str | None,
                variant: Variant | None, device: Device) -> list[Adapter]:
    from lstm_verify.adapters.torch_cell import TorchCellAdapter
    return _with_variant(TorchCellAdapter(obj, name, layout, device.spec), obj, variant)


def _torch_lstm(obj: Any, name: str, layout: Layout, via: str | None, runtime: str | None,
                variant: Variant | None, device: Device) -> list[Adapter]:
    if via:
        if variant is not None or getattr(obj, DECLARED, None):
            raise TargetError("--via onnx checks the plain LSTM torch.onnx.export writes: it takes no variant")
        try:
            from lstm_verify.adapters.torch_onnx import TorchOnnxAdapter
        except ImportError as exc:
            raise TargetError(f"--via onnx needs the onnx extra: {exc}") from None
        if device.accelerator:
            raise TargetError(f"--via onnx runs the exported model on onnxruntime's CPU, not --device {device.spec}")
        return [TorchOnnxAdapter(obj, name=f"{name}-via-onnx", layout=layout)]
    from lstm_verify.adapters.torch_lstm import TorchLSTMAdapter
    return _with_variant(TorchLSTMAdapter(obj, name, layout, device.spec), obj, variant)


def _numpy_step(obj: Any, name: str, layout: Layout, via: str | None, runtime: str | None,
                variant: Variant | None, device: Device) -> list[Adapter]:
    from lstm_verify.adapters.numpy_step import NumpyStepAdapter
    caps, sequence = declared_capabilities(obj, variant)
    return [NumpyStepAdapter(obj, name, layout, sequence, caps)]


def _jax_step(obj: Any, name: str, layout: Layout, via: str | None, runtime: str | None,
              variant: Variant | None, device: Device) -> list[Adapter]:
    from lstm_verify.adapters.jax_step import JaxStepAdapter
    caps, sequence = declared_capabilities(obj, variant, gradients=True, training=True, dtypes=STORAGE)
    return [JaxStepAdapter(obj, name, layout, sequence, caps, device.spec)]


def _tf_step(obj: Any, name: str, layout: Layout, via: str | None, runtime: str | None,
             variant: Variant | None, device: Device) -> list[Adapter]:
    caps, sequence = declared_capabilities(obj, variant, gradients=True, training=True, dtypes=STORAGE)
    if via and device.accelerator:
        raise TargetError(f"--via {via} runs the converted step on the CPU, not --device {device.spec}")
    if via == "tflite":
        try:
            from lstm_verify.adapters.litert_lstm import TfliteStepAdapter
        except ImportError as exc:
            raise TargetError(f"--via tflite needs ai-edge-litert (the litert extra): {exc}") from None
        return [TfliteStepAdapter(obj, name, layout, caps)]
    if via:
        try:
            from lstm_verify.adapters.tf2onnx_lstm import step_adapter
        except ImportError as exc:
            raise TargetError(f"--via tf2onnx needs tf2onnx and onnxruntime: {exc}") from None
        return [step_adapter(obj, name, layout, caps)]
    from lstm_verify.adapters.tf_step import TfStepAdapter
    return [TfStepAdapter(obj, name, layout, sequence, caps, device.spec)]


def _onnx(obj: Any, name: str, layout: Layout, via: str | None, runtime: str | None,
          variant: Variant | None, device: Device) -> list[Adapter]:
    if variant is not None:
        raise TargetError("an ONNX model's LSTM nodes say their variant: --kind onnx takes no --variant")
    return onnx_adapters(obj, name, runtime)


def _adapter(obj: Any, name: str, layout: Layout, via: str | None, runtime: str | None,
             variant: Variant | None, device: Device) -> list[Adapter]:
    if variant is not None:
        raise TargetError("an adapter declares its own variant (its capabilities): --kind adapter takes no --variant")
    adapter = obj() if isinstance(obj, type) else obj
    if not isinstance(adapter, Adapter):
        raise TargetError(f"--kind adapter takes an lstm_verify.adapters.Adapter subclass or instance, "
                          f"got {type(adapter).__name__}")
    return [adapter]


@dataclass(frozen=True)
class Kind:
    """What a TARGET of one kind is, and how it becomes the adapters that run it."""

    target: str
    """What the TARGET is, in a phrase."""
    build: Callable[[Any, str, Layout, str | None, str | None, Variant | None, Device], list[Adapter]]
    """``(target, name, layout, via, runtime, variant, device) -> adapters`` (``variant``: ``--variant``'s,
    or None)."""
    framework: str | None = None
    """The framework that runs the TARGET off the CPU (a key of :data:`~lstm_verify.devices.FRAMEWORKS`):
    what ``--device`` takes; None: the CPU only."""
    callable_target: bool = True
    vias: tuple[str, ...] = ()


KIND_REGISTRY: dict[str, Kind] = {
    "torch-cell": Kind("a class Cls(input_size, hidden_size), called cell(x, (h, c)) -> (h, c)", _torch_cell,
                       "torch"),
    "torch-lstm": Kind("an nn.LSTM-compatible class (sequence-first), parameters named with _l0", _torch_lstm,
                       "torch", vias=("onnx",)),
    "numpy-step": Kind("step(x, h, c, *weights) -> (h, c) on NumPy arrays", _numpy_step),
    "jax-step": Kind("step(params, x, (h, c)) -> (h, c) on JAX arrays, params a dict", _jax_step, "jax"),
    "tf-step": Kind("step(params, x, (h, c)) -> (h, c) on TensorFlow tensors, params a dict", _tf_step,
                    "tensorflow", vias=("tf2onnx", "tflite")),
    "onnx": Kind("an .onnx file, a ModelProto, or a function returning one: each LSTM node", _onnx,
                 callable_target=False),
    "adapter": Kind("an lstm_verify.adapters.Adapter subclass of your own (docs/adapters.md)", _adapter,
                    callable_target=False),
}
"""Every kind, by its ``--kind`` name: the one place a kind is declared."""
KINDS = tuple(KIND_REGISTRY)


def adapters_for(obj: Any, kind: str, layout: str | None = None, name: str | None = None, *,
                 via: str | None = None, runtime: str | None = None, device: str | None = None,
                 variant: str | Variant | None = None) -> list[Adapter]:
    """The adapters that run ``obj`` (a class, a function, a model or an adapter) as ``kind``
    (:data:`KIND_REGISTRY`): one, or one per LSTM node of an ``onnx`` model. ``via="onnx"``: a
    ``torch-lstm`` class exported with torch.onnx.export and run by onnxruntime. ``runtime``: see
    :func:`onnx_adapters`. ``device``: where it runs (:mod:`lstm_verify.devices`; default the
    CPU), which an accelerator's column names (``my_cell-cuda-float32``). ``variant``: the cell it
    computes (a Variant, or ``--variant``'s spelling), replacing what it declares with :func:`capabilities`."""
    variant = target_variant(variant)
    if kind not in KIND_REGISTRY:
        raise TargetError(f"--kind must be one of {', '.join(KINDS)}; got {kind!r}")
    spec = KIND_REGISTRY[kind]
    if via is not None and via not in spec.vias:
        raise TargetError(f"--via takes {' or '.join(f'{v} with --kind {k}' for v, k in VIAS.items())}; "
                          f"got --via {via} --kind {kind}")
    where = _device(device, kind)
    if spec.callable_target:
        _callable(obj)
    guess = looks_like(obj)
    if guess in CLEAR_TARGETS and guess != kind and spec.framework:
        raise TargetError(f"the target looks like {_kind_phrase(guess)}, not --kind {kind}{_DEFAULT_NOTE[kind]}: "
                          f"pass --kind {guess}")
    default = "model" if kind == "onnx" else getattr(obj, "name", None) if kind == "adapter" else None
    name = name or default or getattr(obj, "__name__", kind)
    try:
        missing = where.missing()
        if missing:
            raise TargetError(f"--device {device}: {missing}")
        return spec.build(obj, "-".join(filter(None, (name, where.label))), parse_layout(layout), via, runtime,
                          variant, where)
    except ImportError as exc:
        looks = f"; the target looks like {_kind_phrase(guess)}" if guess and guess != kind else ""
        raise TargetError(f"--kind {kind}{_DEFAULT_NOTE[kind]} needs {exc.name or exc}, which is not installed"
                          f"{looks}; kinds: {', '.join(KINDS)}") from None


DEFAULT_KIND = "torch-cell"
"""The kind of a TARGET given without ``--kind``."""
_DEFAULT_NOTE = {k: " (the default)" if k == DEFAULT_KIND else "" for k in KIND_REGISTRY}
CLEAR_TARGETS = ("jax-step", "tf-step", "onnx", "adapter")
"""What :func:`looks_like` tells for certain: a TARGET that is one of these, given as the kind of
a framework (:attr:`Kind.framework`: torch-cell, torch-lstm, jax-step, tf-step), is refused with
the kind it looks like. (A function that uses NumPy alone may reach its framework through a
module of its own: that guess only comes with a missing library's message.)"""


def looks_like(obj: Any) -> str | None:
    """The kind ``obj`` looks like, or None: an Adapter (``adapter``), an ONNX ModelProto
    (``onnx``), or a function whose module's names (modules, and the functions it imported) come
    from JAX (``jax-step``), TensorFlow (``tf-step``) or NumPy alone (``numpy-step``) of the
    frameworks."""
    if isinstance(obj, Adapter) or (isinstance(obj, type) and issubclass(obj, Adapter)):
        return "adapter"
    if type(obj).__name__ == "ModelProto" and type(obj).__module__.startswith("onnx"):
        return "onnx"
    fn = inspect.unwrap(obj) if callable(obj) else None
    if not inspect.isfunction(fn):
        return None
    used = {(v.__name__ if inspect.ismodule(v) else getattr(v, "__module__", None) or "").partition(".")[0]
            for v in fn.__globals__.values() if inspect.ismodule(v) or callable(v)}
    frameworks = used & {"jax", "tensorflow", "torch", "onnx"}
    if len(frameworks) == 1 and frameworks <= {"jax", "tensorflow"}:
        return "jax-step" if "jax" in frameworks else "tf-step"
    return "numpy-step" if not frameworks and "numpy" in used else None


def _kind_phrase(kind: str) -> str:
    return f"--kind {kind} ({KIND_REGISTRY[kind].target})"


def _device(device: str | None, kind: str) -> Device:
    try:
        return parse_device(device, KIND_REGISTRY[kind].framework, kind)
    except DeviceError as exc:
        raise TargetError(str(exc)) from None


def onnx_adapters(model: Any, name: str, runtime: str | None = None) -> list[Adapter]:
    """``--kind onnx``: each LSTM node of ``model`` (a ModelProto, or a function returning one, which
    may declare the ``clip_reading`` to check with :func:`capabilities`) on ``runtime`` (default env
    LSTM_VERIFY_RUNTIME, else onnxruntime); see :func:`lstm_verify.adapters._onnx.model_adapters`."""
    import os
    runtime = runtime or os.environ.get("LSTM_VERIFY_RUNTIME", "onnxruntime")
    if runtime not in RUNTIMES:
        raise TargetError(f"--runtime must be one of {', '.join(RUNTIMES)}; got {runtime!r}")
    try:
        import onnx
        from lstm_verify.adapters import builtin_adapter
        from lstm_verify.adapters._onnx import model_adapters
    except ImportError as exc:
        raise TargetError(f"--kind onnx needs the onnx extra: {exc}") from None
    reading = "spec"
    if callable(model):
        if declared_variant(_declared(model), None) != PLAIN:
            raise TargetError("an ONNX model's nodes say their variant and clip: declare clip_reading alone")
        reading, model = getattr(model, DECLARED, {}).get("clip_reading", reading), model()
    if not isinstance(model, onnx.ModelProto):
        raise TargetError(f"the target is not an ONNX ModelProto (a {type(model).__name__})")
    adapter = builtin_adapter(runtime)
    if adapter.unavailable():
        raise TargetError(f"--runtime {runtime}: {adapter.unavailable()}")
    try:
        return model_adapters(model, adapter, name, reading)
    except ValueError as exc:
        raise TargetError(f"{name}: {exc}") from None


def chosen_adapters(args: Any) -> list[Adapter] | None:
    """The adapters that run the TARGET of :func:`lstm_verify.config.add_target_arguments`' options (one per LSTM node
    of an ONNX model), or None without a TARGET; a TargetError when they name nothing runnable."""
    device = getattr(args, "device", None)
    if not args.target:
        if args.via:
            raise TargetError(f"--via takes a TARGET of --kind {' or '.join(dict.fromkeys(VIAS.values()))}")
        if args.variant:
            raise TargetError("--variant says what a TARGET computes: the built-in adapters declare their own")
        if device:
            raise TargetError("--device takes a TARGET; the built-in adapters run where they say "
                              "(torch-cell-cuda and torch-lstm-cuda on the GPU)")
        return None
    return target_adapters(args.target, args.kind, args.layout, via=args.via, runtime=args.runtime, device=device,
                           variant=args.variant)


def check_target_arguments(args: Any) -> None:
    """What :func:`chosen_adapters` checks without importing TARGET: a TargetError for a TARGET
    that is malformed or names no file, a ``--via``, ``--device`` or ``--variant`` without one, a
    ``--device`` its kind does not take, an unknown ``--layout`` or a ``--variant`` that does not parse.
    ``lstm-verify check`` calls this before pytest starts and leaves the import to the run
    (:func:`lstm_verify.pytest_plugin.pytest_sessionstart`)."""
    if not args.target:
        chosen_adapters(args)
    elif args.kind == "onnx" and args.target.endswith(".onnx"):
        _existing(args.target)
    else:
        _spec_parts(args.target, args.kind)
    if args.target:
        _device(getattr(args, "device", None), args.kind)
    parse_layout(args.layout)
    target_variant(args.variant)


def target_adapters(spec: str, kind: str, layout: str | None = None, *, via: str | None = None,
                    runtime: str | None = None, device: str | None = None,
                    variant: str | Variant | None = None) -> list[Adapter]:
    """The adapters that run TARGET (``module:attr`` or ``file.py:attr``; an ``.onnx`` file for
    ``onnx``) as ``kind``: see :func:`adapters_for`."""
    if kind == "onnx" and spec.endswith(".onnx"):
        import onnx
        target, name = onnx.load(_existing(spec)), Path(spec).stem
    else:
        _spec_parts(spec, kind)
        target, name = load_object(spec), spec.rpartition(":")[2]
    return adapters_for(target, kind, layout, name, via=via, runtime=runtime, device=device, variant=variant)


def _one(adapters: list[Adapter]) -> Adapter:
    if len(adapters) > 1:
        raise TargetError(f"the target holds {len(adapters)} implementations "
                          f"({', '.join(a.name for a in adapters)}); this takes one")
    return adapters[0]


def adapter_for(obj: Any, kind: str, layout: str | None = None, name: str | None = None, *,
                via: str | None = None, runtime: str | None = None, device: str | None = None,
                variant: str | Variant | None = None) -> Adapter:
    """:func:`adapters_for` where one adapter is wanted (a TargetError if ``obj`` holds several)."""
    return _one(adapters_for(obj, kind, layout, name, via=via, runtime=runtime, device=device, variant=variant))


def target_adapter(spec: str, kind: str, layout: str | None = None, *, via: str | None = None,
                   runtime: str | None = None, device: str | None = None,
                   variant: str | Variant | None = None) -> Adapter:
    """:func:`target_adapters` where one adapter is wanted (a TargetError if TARGET holds several)."""
    return _one(target_adapters(spec, kind, layout, via=via, runtime=runtime, device=device, variant=variant))
