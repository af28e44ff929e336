"""What an adapter is: a layout, capabilities, and code that loads native parameters.

To add a library, write one file in this folder (the README's "Adding an adapter" has a
worked example per family: torch, JAX, a NumPy-only runtime) with a subclass of
:class:`Adapter` that sets

* ``name`` -- the stable id used in test ids and on the command line,
* ``requires`` -- the import names of the modules it needs (a missing one skips the adapter),
* ``distributions`` -- the pip distributions behind them, whose versions the report shows
  (``dm-haiku`` for ``haiku``; when not set, the import names are used),
* ``layout`` -- a :class:`~lstm_verify.layouts.Layout` describing the native storage,
* ``capabilities`` -- what the properties may ask of it,
* ``environment`` -- process environment variables its library reads once, at import (Keras's
  ``KERAS_BACKEND``), when it needs any,

and implements :meth:`Adapter.load`, returning a :class:`Model`. Then list it in
``BUILTIN`` in ``lstm_verify/adapters/__init__.py``. Models take and return NumPy
arrays in the implementation's dtype; the kit does the rest (layout conversion,
bias splitting, canonical gradients, comparisons).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable

import numpy as np

from lstm_verify.layouts import Layout, Native
from lstm_verify.expected import Expected
from lstm_verify.reference import PLAIN, Variant
from lstm_verify.variants import spell_variant

State = tuple[np.ndarray, np.ndarray]
Pullback = Callable[[np.ndarray, np.ndarray], "NativeGrads"]
"""``(gh, gc) ->`` the gradients of ``sum_t <gh_t, h_t> + <gc, c_T>`` over a forward already run;
called once (torch frees the recorded graph as it differentiates)."""


@dataclass(frozen=True)
class Capabilities:
    """What an implementation supports; a property it cannot serve is skipped with the reason.

    ``sequence``: :meth:`Model.sequence` is the library's own sequence API. ``lengths``: it
    takes per-row lengths of a right-padded batch; ``reverse``: it can run from the last step
    to the first. ``bidirectional``, ``layers``, ``projection``: :meth:`Adapter.load_stack`
    builds two directions per layer, several layers, an output projection (torch ``proj_size``).
    ``variant``: the cell the implementation computes (an ONNX model's attributes, a TARGET's
    declared variant; laws that need sigmoid/tanh gates require ``sigmoid_tanh``); ``variants``:
    :meth:`Adapter.load_variant` loads any :class:`~lstm_verify.reference.Variant`. The variant laws
    require ``peepholes``, ``clip``, ``input_forget`` or ``activations``: loading any variant, or
    computing one with that feature. ``opsets`` and ``batch_major``: an ONNX runtime's
    opsets and its ``layout=1``, reached through ``adapter.at(opset=, layout=)``.
    ``long_sequences``: it runs hundreds of steps in one call (the 200- and 1000-step laws need it;
    a form converted unrolled, one graph node per step, does not).
    """

    dtypes: tuple[str, ...] = ("float32", "float64")
    devices: tuple[str, ...] = ("cpu",)
    gradients: bool = False
    training: bool = False
    sequence: bool = False
    unbatched: bool = False
    optional_state: bool = True
    lengths: bool = False
    reverse: bool = False
    bidirectional: bool = False
    layers: bool = False
    projection: bool = False
    variant: Variant = PLAIN
    variants: bool = False
    opsets: tuple[int, ...] = ()
    batch_major: bool = False
    long_sequences: bool = True

    @property
    def sigmoid_tanh(self) -> bool:
        """The plain cell: sigmoid gates, tanh candidate and readout, no peepholes, clip or coupling."""
        return self.variant == PLAIN

    @property
    def peepholes(self) -> bool:
        """It loads any variant, or its own has peepholes."""
        return self.variants or self.variant.peepholes

    @property
    def clip(self) -> bool:
        """It loads any variant, or its own clips."""
        return self.variants or self.variant.clip is not None

    @property
    def input_forget(self) -> bool:
        """It loads any variant, or its own couples the input and forget gates."""
        return self.variants or self.variant.input_forget

    @property
    def activations(self) -> bool:
        """It loads any variant, or its own has other activations than sigmoid, tanh, tanh."""
        return self.variants or (self.variant.f, self.variant.g, self.variant.h) != (PLAIN.f, PLAIN.g, PLAIN.h)

    @property
    def peephole_probe(self) -> bool:
        """It loads any variant, or its own is peepholes alone: a single peephole can be driven
        through sigmoid gates (:mod:`lstm_verify.probes`)."""
        return self.variants or self.variant == Variant(peepholes=True)


@dataclass(frozen=True)
class NativeGrads:
    """Gradients as a model computes them: inputs and state, plus native parameter gradients."""

    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray
    params: Native


class Model(ABC):
    """An implementation loaded with one parameter set. Arrays in and out are NumPy."""

    @abstractmethod
    def step(self, x: np.ndarray, state: State | None = None) -> State:
        """One step: x (B, I) or, when unbatched, (I,); returns (h, c)."""

    def sequence(self, xs: np.ndarray, state: State | None = None, *, lengths: np.ndarray | None = None,
                 reverse: bool = False) -> tuple[np.ndarray, State]:
        """The library's own sequence API: xs (T, B, I) -> (hs (T, B, H), (h_T, c_T)).

        ``lengths`` (B,), each in 1..T: row b is ``xs[:lengths[b], b]``, right-padded; its
        outputs past its length are not looked at and its final state is the one at its own
        last step. ``reverse``: each row is read from its last (valid) step to its first, and
        ``hs[t]`` is still the output on consuming ``xs[t]`` (input time order), whatever
        order the library returns. A model from :meth:`Adapter.load_stack` takes and returns
        states (L * D, B, H) and outputs (T, B, D * H), torch's order: index ``layer * D +
        direction``, the forward direction first."""
        raise NotImplementedError(f"{type(self).__name__} has no sequence API")

    def grads(self, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray,
              gh: np.ndarray, gc: np.ndarray) -> NativeGrads:
        """Gradients of ``sum_t <gh_t, h_t> + <gc, c_T>`` over the sequence ``xs``."""
        raise NotImplementedError(f"{type(self).__name__} computes no gradients")

    def vjp(self, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray) -> tuple[np.ndarray, State, Pullback] | None:
        """The run over ``xs`` from (h0, c0), ``(hs, (h_T, c_T))``, with its :data:`Pullback`, which
        gives that run's gradients without running the forward again: training needs the outputs
        before it knows what to differentiate. None (the default): the model has no cheaper way
        than a run and then :meth:`grads`, and the kit does that."""
        return None


def sequence_keywords(lengths: np.ndarray | None, reverse: bool) -> dict:
    """The keywords a user's sequence function is called with: only those that differ from the
    defaults, so a function that declares no ``lengths`` (or ``reverse``) never receives it."""
    return {k: v for k, v in (("lengths", lengths), ("reverse", reverse)) if v is not None and v is not False}


class SequenceModel(Model):
    """A model built around its sequence API: one step is a sequence of length one."""

    def step(self, x: np.ndarray, state: State | None = None) -> State:
        return self.sequence(x[None], state)[1]


class Adapter(ABC):
    """One implementation family: how to load canonical parameters into it and run it."""

    name: str
    requires: tuple[str, ...] = ()
    distributions: tuple[str, ...] | None = None
    layout: Layout
    capabilities: Capabilities = Capabilities()
    environment: dict[str, str] = {}
    """Environment variables the adapter's process must have, read by its library once, at import
    (``{"KERAS_BACKEND": "jax"}``): :func:`lstm_verify.runner.run_suite` runs the adapters of each
    distinct environment in a pytest session of their own, with it set. In a process without it the
    adapter is refused, every check failed with :meth:`wrong_environment`'s line."""

    def unavailable(self) -> str | None:
        """Why this adapter cannot run here (a missing library, another environment), or None."""
        for module in self.requires:
            if importlib.util.find_spec(module) is None:
                return f"{module} is not installed"
        return self.wrong_environment()

    def wrong_environment(self) -> str | None:
        """Why this process's environment is not :attr:`environment`, in one line, or None."""
        wrong = [f"{k}={v} (this process has {os.environ.get(k, 'it unset')})" for k, v in self.environment.items()
                 if os.environ.get(k) != v]
        if not wrong:
            return None
        return (f"{self.name} needs {', '.join(wrong)}, read once when its library is imported: refused here "
                f"(lstm-verify check runs each environment's adapters in a session of their own)")

    def precision(self, dtype: str) -> str:
        """How the library computes at ``dtype``, beyond the dtype itself: a precision of
        :data:`lstm_verify.error_model.PRECISIONS` (``ieee`` unless it declares otherwise, with
        the evidence, as cuDNN's approximate float32 activations)."""
        return "ieee"

    def unsupported(self, dtype: str) -> str | None:
        """Why ``dtype`` cannot be checked here, or None."""
        if dtype not in self.capabilities.dtypes:
            return f"{self.name} is declared for {', '.join(self.capabilities.dtypes)} only"
        return None

    def version(self) -> str:
        """The version of every distribution under test: ``dm-haiku 0.0.17, jax 0.10.2``."""
        versions = []
        for distribution in self.requires if self.distributions is None else self.distributions:
            try:
                versions.append(f"{distribution} {importlib.metadata.version(distribution)}")
            except importlib.metadata.PackageNotFoundError:
                versions.append(f"{distribution} (no distribution metadata)")
        return ", ".join(versions) or "-"

    def known_differences(self, dtype: str) -> list[Expected]:
        """Laws the library is known to break at ``dtype``: exact expected failures, each naming the
        law, what fails in it (a pattern on the violation, or the exception) and its measured
        evidence (:mod:`lstm_verify.expected`). A violation they match is recorded and the rest of
        the law still runs; one they do not match fails; none at all is an unexpected pass. Never a
        looser tolerance."""
        return []

    def unsupported_variant(self, variant: Variant) -> str | None:
        """Why :meth:`load_variant` cannot build ``variant`` (an option the library does not have),
        or None: the law asking for it is skipped with the reason. Without the ``variants``
        capability, every variant but its own."""
        if not self.capabilities.variants and variant != self.capabilities.variant:
            return f"{self.name} computes its own variant only ({spell_variant(self.capabilities.variant) or 'plain'})"
        return None

    def explain(self, variant: Variant) -> str | None:
        """The known difference that explains a failure to compute ``variant`` (a runtime that
        reads its ``clip`` otherwise, or ignores an attribute it sets), for the failure message;
        None (the default) when none does."""
        return None

    @abstractmethod
    def load(self, native: Native, dtype: str) -> Model:
        """Build the implementation holding ``native`` parameters, computing in ``dtype``."""

    def load_variant(self, native: Native, dtype: str, variant: Variant) -> Model:
        """Build the implementation computing ``variant`` (``native`` holds ``p`` with peepholes):
        its own variant is :meth:`load`; any other only for adapters whose capabilities claim
        ``variants``."""
        if variant == self.capabilities.variant:
            return self.load(native, dtype)
        raise NotImplementedError(f"{self.name} loads no LSTM variants but its own")

    def load_stack(self, layers: list[list[Native]], dtype: str) -> Model:
        """Build a stacked and/or bidirectional LSTM: ``layers[l][d]`` holds layer l, direction d
        (0 forward, 1 backward). Layer l > 0 reads the concatenated outputs of layer l - 1. A
        native set with ``w_hr`` asks for an output projection (h = W_hr (o * tanh c)).
        Only for adapters whose capabilities claim ``bidirectional``, ``layers`` or ``projection``."""
        raise NotImplementedError(f"{self.name} builds no stacked or bidirectional LSTM")
