"""A catalogue of defective LSTM implementations, each modelled on a real bug class,
and the properties each must fail. Used by tests/test_properties_catch_defects.py."""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import expit

from lstm_verify.adapters import Adapter, Capabilities, Model, State
from lstm_verify.adapters._torch import TorchCellModel
from lstm_verify.adapters.numpy_lstm import NumpyModel
from lstm_verify.implementation import Implementation
from lstm_verify.layouts import TORCH, Layout, Native
from lstm_verify.params import GATES, Params


class StepCell(Model):
    """A NumPy step written from the equations, with one overridable piece per bug class."""

    gate_order = GATES

    def __init__(self, native: Native, dtype: str) -> None:
        self.p = Params(**native)
        self.dtype = dtype
        self.h = self.c = None

    sigmoid = staticmethod(expit)
    tanh = staticmethod(np.tanh)

    def preact(self, x: np.ndarray, h: np.ndarray) -> np.ndarray:
        return x @ self.p.w_ih.T + self.p.b_ih + h @ self.p.w_hh.T + self.p.b_hh

    def default_state(self, x: np.ndarray) -> State:
        zeros = np.zeros((*x.shape[:-1], self.p.hidden_size), self.dtype)
        return zeros, zeros

    def update(self, f: np.ndarray, c: np.ndarray, i: np.ndarray, g: np.ndarray) -> np.ndarray:
        return f * c + i * g

    def readout(self, o: np.ndarray, c: np.ndarray) -> np.ndarray:
        return o * self.tanh(c)

    def step(self, x: np.ndarray, state: State | None = None) -> State:
        h, c = self.default_state(x) if state is None else state
        blocks = dict(zip(self.gate_order, np.split(self.preact(x, h), 4, axis=-1)))
        i, f, o = (self.sigmoid(blocks[k]) for k in "ifo")
        c = self.update(f, c, i, self.tanh(blocks["g"]))
        return self.readout(o, c), c


class HardSigmoid(StepCell):
    """A piecewise-linear sigmoid, as some mobile back ends substitute."""

    @staticmethod
    def sigmoid(z: np.ndarray) -> np.ndarray:
        return np.clip(0.2 * z + 0.5, 0.0, 1.0).astype(z.dtype)


class DroppedRecurrentBias(StepCell):
    def preact(self, x: np.ndarray, h: np.ndarray) -> np.ndarray:
        return x @ self.p.w_ih.T + self.p.b_ih + h @ self.p.w_hh.T


class PreviousCellReadout(StepCell):
    """h' = o * tanh(c) with the previous c instead of the new one."""

    def step(self, x: np.ndarray, state: State | None = None) -> State:
        c_prev = (self.default_state(x) if state is None else state)[1]
        h, c = super().step(x, state)
        return h / self.tanh(c) * self.tanh(c_prev) if np.all(self.tanh(c) != 0) else h, c


class Float16Accumulation(StepCell):
    def preact(self, x: np.ndarray, h: np.ndarray) -> np.ndarray:
        return super().preact(x.astype(np.float16), h.astype(np.float16)).astype(self.dtype)


class BatchLeak(StepCell):
    """Rows influence each other: the batch mean of h is fed back (a misplaced normalisation)."""

    def preact(self, x: np.ndarray, h: np.ndarray) -> np.ndarray:
        return super().preact(x, h + 0.1 * h.mean(axis=0, keepdims=True))


class SqueezedBatch(StepCell):
    def step(self, x: np.ndarray, state: State | None = None) -> State:
        h, c = super().step(x, state)
        return np.squeeze(h), np.squeeze(c)


class InPlaceUpdate(StepCell):
    def update(self, f: np.ndarray, c: np.ndarray, i: np.ndarray, g: np.ndarray) -> np.ndarray:
        c *= f
        c += i * g
        return c


class CachedDefaultState(StepCell):
    """With no state given, continues from the last state it returned."""

    def default_state(self, x: np.ndarray) -> State:
        return super().default_state(x) if self.h is None else (self.h, self.c)

    def step(self, x: np.ndarray, state: State | None = None) -> State:
        self.h, self.c = super().step(x, state)
        return self.h, self.c


class StoredState(StepCell):
    """Stateful mode: ignores the h passed in after the first call and uses its own."""

    def step(self, x: np.ndarray, state: State | None = None) -> State:
        if self.h is not None and state is not None and self.h.shape == state[0].shape:
            state = (self.h, state[1])
        h, c = super().step(x, state)
        self.h = h
        return h, c


class UnsquashedReadout(StepCell):
    def readout(self, o: np.ndarray, c: np.ndarray) -> np.ndarray:
        return o * c


class ClippedCell(StepCell):
    def update(self, f: np.ndarray, c: np.ndarray, i: np.ndarray, g: np.ndarray) -> np.ndarray:
        return np.clip(f * c + i * g, -1.0, 1.0)


class OverflowingTanh(StepCell):
    @staticmethod
    def tanh(z: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            e = np.exp(2 * z)
            return (e - 1) / (e + 1)


class UpcastOutput(StepCell):
    def step(self, x: np.ndarray, state: State | None = None) -> State:
        h, c = super().step(x, state)
        return h.astype(np.float64), c.astype(np.float64)


class BatchOfOneUnbatched(StepCell):
    """Unbatched input comes back with a batch axis of one."""

    def step(self, x: np.ndarray, state: State | None = None) -> State:
        if state is not None:
            state = (np.atleast_2d(state[0]), np.atleast_2d(state[1]))
        return super().step(np.atleast_2d(x), state)


class StateResetSequence(NumpyModel):
    """A sequence API that restarts each step from the initial cell state."""

    def sequence(self, xs: np.ndarray, state: State | None = None) -> tuple[np.ndarray, State]:
        h, c0 = state
        hs = []
        for x in xs:
            h, c = self.step(x, (h, c0))
            hs.append(h)
        return np.stack(hs), (h, c)


def permuted(order: str) -> type[StepCell]:
    """A cell that reads its gate blocks in ``order`` while declaring torch's i, f, g, o."""
    return type(f"GateOrder_{order}", (StepCell,), {"gate_order": order})


class _WrongSigmoidGrad(torch.autograd.Function):
    """A hand-written sigmoid whose backward forgets the (1 - s) factor."""

    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        s = torch.sigmoid(z)
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (s,) = ctx.saved_tensors
        return grad * s


class TorchDefectCell(torch.nn.LSTMCell):
    """nn.LSTMCell's parameters with a forward written by hand; ``defect`` picks the bug."""

    def __init__(self, input_size: int, hidden_size: int, defect: str = "", **kw) -> None:
        super().__init__(input_size, hidden_size, **kw)
        self.defect = defect

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None):
        if state is None:
            state = (x.new_zeros(self.hidden_size), x.new_zeros(self.hidden_size))
        h, c = state
        if self.defect in ("detached_carry", "truncated_bptt"):
            c = c.detach()
        if self.defect == "truncated_bptt":
            h = h.detach()
        z = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh
        i, f, g, o = z.chunk(4, dim=-1)
        sig = _WrongSigmoidGrad.apply if self.defect == "wrong_backward" else torch.sigmoid
        c = sig(f) * c + sig(i) * torch.tanh(g)
        return sig(o) * torch.tanh(c), c


class StepAdapter(Adapter):
    """Wraps a defective NumPy model class, declaring torch's layout."""

    requires = ("numpy",)
    layout = TORCH

    def __init__(self, model: type[Model], capabilities: Capabilities = Capabilities(unbatched=True),
                 layout: Layout = TORCH) -> None:
        self.model, self.name, self.capabilities, self.layout = model, model.__name__, capabilities, layout

    def load(self, native: Native, dtype: str) -> Model:
        return self.model(native, dtype)


class TorchDefectAdapter(Adapter):
    requires = ("torch",)
    layout = TORCH
    capabilities = Capabilities(gradients=True, training=True, unbatched=True)

    def __init__(self, defect: str) -> None:
        self.defect, self.name = defect, f"torch-{defect}"

    def load(self, native: Native, dtype: str) -> Model:
        cell = TorchDefectCell(native["w_ih"].shape[1], native["w_hh"].shape[1], self.defect,
                               dtype=getattr(torch, dtype))
        tensors = {"w_ih": cell.weight_ih, "w_hh": cell.weight_hh, "b_ih": cell.bias_ih, "b_hh": cell.bias_hh}
        return TorchCellModel(cell, tensors, native)


class ForgetOffsetLost(Layout):
    """A layout whose way back forgets to add the run-time forget-gate constant."""

    def from_native(self, native: Native, input_size: int) -> Params:
        p = super().from_native(native, input_size)
        return p.with_gate_biases(f=p.b_ih[p.hidden_size:2 * p.hidden_size] - self.forget_offset)


def impl(adapter: Adapter, dtype: str = "float64") -> Implementation:
    return Implementation(adapter, dtype)


SEQ = Capabilities(sequence=True, gradients=True)

DEFECTS: dict[str, tuple[Implementation, list[str]]] = {
    # name: (implementation, properties that must fail)
    "hard_sigmoid": (impl(StepAdapter(HardSigmoid)), ["test_gate_ranges", "test_step_agrees_with_reference"]),
    "dropped_recurrent_bias": (impl(StepAdapter(DroppedRecurrentBias)), ["test_step_agrees_with_reference"]),
    "previous_cell_readout": (impl(StepAdapter(PreviousCellReadout)), ["test_step_agrees_with_reference"]),
    "float16_accumulation": (impl(StepAdapter(Float16Accumulation), "float32"),
                             ["test_step_agrees_with_reference"]),
    "batch_leak": (impl(StepAdapter(BatchLeak)), ["test_batch_rows_independent"]),
    "squeezed_batch_of_one": (impl(StepAdapter(SqueezedBatch)), ["test_state_shapes"]),
    "in_place_update": (impl(StepAdapter(InPlaceUpdate)), ["test_inputs_not_modified"]),
    "cached_default_state": (impl(StepAdapter(CachedDefaultState)), ["test_default_state_is_zeros"]),
    "stored_state": (impl(StepAdapter(StoredState)), ["test_no_state_between_calls"]),
    "unsquashed_readout": (impl(StepAdapter(UnsquashedReadout)), ["test_saturation_finite_and_bounded"]),
    "clipped_cell": (impl(StepAdapter(ClippedCell)), ["test_exact_cec_carry"]),
    "overflowing_tanh": (impl(StepAdapter(OverflowingTanh)), ["test_saturation_finite_and_bounded"]),
    "upcast_output": (impl(StepAdapter(UpcastOutput), "float32"), ["test_dtype_preserved"]),
    "unbatched_keeps_axis": (impl(StepAdapter(BatchOfOneUnbatched)), ["test_unbatched_input"]),
    "state_reset_in_sequence": (impl(StepAdapter(StateResetSequence, SEQ)), ["test_sequence_agrees_with_reference"]),
    "swapped_input_forget_blocks": (impl(StepAdapter(permuted("figo"))), ["test_gate_order"]),
    "lost_forget_offset": (impl(StepAdapter(StepCell, layout=ForgetOffsetLost("tf1ish", forget_offset=1.0))),
                           ["test_layout_round_trip"]),
    "wrong_backward": (impl(TorchDefectAdapter("wrong_backward")), ["test_gradients_agree_with_bptt"]),
    "detached_carry": (impl(TorchDefectAdapter("detached_carry")),
                       ["test_exact_cec_jacobian", "test_gradients_agree_with_bptt",
                        "test_early_input_gradient_dominance"]),
    "truncated_bptt": (impl(TorchDefectAdapter("truncated_bptt"), "float32"), ["test_delayed_xor_solvable"]),
}
