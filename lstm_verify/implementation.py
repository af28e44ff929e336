"""An adapter at one dtype: what the properties call. Canonical parameters in, NumPy out."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Callable

import numpy as np

from lstm_verify import error_model, reference
from lstm_verify.adapters import Adapter, Capabilities, Model, NativeGrads, State, builtin_adapter
from lstm_verify.dtypes import numpy_dtype
from lstm_verify.error_model import ForwardBounds
from lstm_verify.guard import DEFAULT_TIME_LIMIT, GuardedModel, guarded_call
from lstm_verify.layouts import canonical_grads
from lstm_verify.params import Case, Grads, Params
from lstm_verify.reference import Variant


@dataclass(frozen=True)
class Implementation:
    """One implementation under test: an adapter and the dtype it computes in."""

    adapter: Adapter
    dtype: str
    time_limit: float = DEFAULT_TIME_LIMIT
    declared_precision: str | None = None
    """What the user declared (``--precision``); None: what the adapter declares for the dtype."""

    def __repr__(self) -> str:
        precision = f", precision={self.declared_precision!r}" if self.declared_precision else ""
        return f"Implementation({self.adapter.name!r}, {self.dtype!r}{precision})"

    def _repr_pretty_(self, printer: object, cycle: bool) -> None:
        """How hypothesis prints it in a falsifying example (no object addresses)."""
        printer.text(repr(self))

    @property
    def id(self) -> str:
        """Stable id, used in test ids: ``adapter-dtype``."""
        return f"{self.adapter.name}-{self.dtype}"

    @property
    def capabilities(self) -> Capabilities:
        return self.adapter.capabilities

    def skip_reason(self) -> str | None:
        """Why this implementation cannot be checked here at all, or None."""
        return self.adapter.unavailable() or self.adapter.unsupported(self.dtype)

    @property
    def precision(self) -> str:
        """How it computes, beyond its dtype (:mod:`lstm_verify.error_model`): ``ieee``, ``tf32``..."""
        return self.declared_precision or self.adapter.precision(self.dtype)

    def arrays(self, case: Case) -> tuple[Params, np.ndarray, np.ndarray, np.ndarray]:
        """``case.arrays()``, the parameters with the case's peepholes where :attr:`variant` reads them."""
        params, xs, h0, c0 = case.arrays()
        return (replace(params, p=case.peepholes()) if self.variant.peepholes else params), xs, h0, c0

    def cast(self, *arrays: np.ndarray) -> list[np.ndarray]:
        """Fresh copies of ``arrays`` in this implementation's dtype."""
        return [np.array(a, dtype=numpy_dtype(self.dtype)) for a in arrays]

    def forward_bounds(self, params: Params, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray,
                       variant: Variant | None = None) -> ForwardBounds:
        """How far a correct implementation at this dtype and precision may be from the reference's
        hs and cs for this run (:func:`lstm_verify.error_model.forward_bounds`)."""
        return error_model.forward_bounds(params, xs, h0, c0, self.dtype, self.precision, variant or self.variant)

    def expected(self, params: Params, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray,
                 variant: Variant | None = None) -> tuple[reference.Trace, ForwardBounds]:
        """The reference's run over these arrays, in this implementation's variant (or ``variant``),
        and :meth:`forward_bounds` around it: what a law holds a run of the implementation to."""
        variant = variant or self.variant
        want = reference.lstm_forward(params, xs, h0, c0, variant=variant)
        return want, self.forward_bounds(params, xs, h0, c0, variant)

    def step_bounds(self, params: Params, x: np.ndarray, h: np.ndarray, c: np.ndarray,
                    variant: Variant | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The bounds for one step's (h', c')."""
        return error_model.step_bounds(params, x, h, c, self.dtype, self.precision, variant or self.variant)

    def stack_bounds(self, layers: list[list[Params]], xs: np.ndarray, h0: np.ndarray, c0: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The bounds for a stack's outputs, h_n and c_n, each cell this implementation's variant."""
        return error_model.stack_bounds(layers, xs, h0, c0, self.dtype, self.precision, self.variant)

    def gradient_bounds(self, params: Params, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray,
                        gh: np.ndarray, gc: np.ndarray) -> Grads:
        """The bounds for every gradient of ``sum_t <gh_t, h_t> + <gc, c_T>``, in this implementation's variant."""
        return error_model.gradient_bounds(params, xs, h0, c0, gh, gc, self.dtype, self.precision, self.variant)

    def load(self, params: Params, split_seed: int = 0) -> Model:
        """Load canonical ``params`` through the adapter's layout (two native biases get a random
        split); every call into the result is guarded (:mod:`lstm_verify.guard`)."""
        native = self.adapter.layout.to_native(params, numpy_dtype(self.dtype), np.random.default_rng(split_seed))
        model = guarded_call(self.id, "loading", self.adapter.load, native, self.dtype, limit=self.time_limit)
        return GuardedModel(model, self.id, self.time_limit)

    def load_variant(self, params: Params, variant: Variant, split_seed: int = 0) -> Model:
        """Load canonical ``params`` (with ``p`` for peepholes) as the LSTM ``variant``."""
        native = self.adapter.layout.to_native(params, numpy_dtype(self.dtype), np.random.default_rng(split_seed))
        model = guarded_call(self.id, "loading a variant", self.adapter.load_variant, native, self.dtype, variant,
                             limit=self.time_limit)
        return GuardedModel(model, self.id, self.time_limit)

    @property
    def variant(self) -> Variant:
        """The cell this implementation computes (the plain LSTM unless an ONNX model says otherwise)."""
        return self.capabilities.variant

    @property
    def explanation(self) -> str | None:
        """The known difference that explains a failure to compute :attr:`variant`, if the adapter
        declares one (:meth:`Adapter.explain`): failure messages end with it."""
        return self.adapter.explain(self.variant)

    def load_stack(self, layers: list[list[Params]], split_seed: int = 0) -> Model:
        """Load a stacked and/or bidirectional LSTM, ``layers[l][d]`` (see :meth:`Adapter.load_stack`)."""
        rng = np.random.default_rng(split_seed)
        natives = [[self.adapter.layout.to_native(p, numpy_dtype(self.dtype), rng) for p in layer] for layer in layers]
        model = guarded_call(self.id, "loading a stack", self.adapter.load_stack, natives, self.dtype,
                             limit=self.time_limit)
        return GuardedModel(model, self.id, self.time_limit)

    def loop(self, model: Model, xs: np.ndarray, state: State | None) -> tuple[np.ndarray, State]:
        """Run ``model.step`` over xs (T, B, I): (hs (T, B, H), (h_T, c_T))."""
        hs = []
        for x in self.cast(*xs):
            state = model.step(x, state)
            hs.append(state[0])
        return np.stack(hs), state

    def run(self, params: Params, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray) -> tuple[np.ndarray, State]:
        """The implementation's forward over a sequence: its sequence API if it has one, else a step loop."""
        return self._forward(self.load(params), *self.cast(xs, h0, c0))

    def _forward(self, model: Model, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray) -> tuple[np.ndarray, State]:
        if self.capabilities.sequence:
            return model.sequence(xs, (h0, c0))
        return self.loop(model, xs, (h0, c0))

    def grads(self, params: Params, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray,
              gh: np.ndarray, gc: np.ndarray) -> Grads:
        """Canonical gradients of ``sum_t <gh_t, h_t> + <gc, c_T>``."""
        return self._canonical(params, self.load(params).grads(*self.cast(xs, h0, c0, gh, gc)))

    def _canonical(self, params: Params, g: NativeGrads) -> Grads:
        return canonical_grads(self.adapter.layout, g.params, g.x, g.h0, g.c0, params.input_size)

    def run_with_pullback(self, params: Params, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray
                          ) -> tuple[np.ndarray, State, Callable[[np.ndarray, np.ndarray], Grads]]:
        """:meth:`run`, and a function from (gh, gc) to :meth:`grads` of that run, for training: its
        loss gradient depends on the run's outputs. The forward runs once where the model can keep
        it (:meth:`Model.vjp`, torch autograd), else once more inside :meth:`Model.grads`."""
        model = self.load(params)
        arrays = self.cast(xs, h0, c0)
        recorded = model.vjp(*arrays)
        if recorded is None:
            hs, state = self._forward(model, *arrays)
            pullback = partial(model.grads, *arrays)
        else:
            hs, state, pullback = recorded
        return hs, state, lambda gh, gc: self._canonical(params, pullback(*self.cast(gh, gc)))


def implementation(name: str, dtype: str = "float32") -> Implementation:
    """The built-in implementation ``name`` at ``dtype``: ``implementation("torch-cell", "float64")``."""
    return Implementation(builtin_adapter(name), dtype)
