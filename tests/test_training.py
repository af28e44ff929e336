"""The training laws' path into an implementation: a run and its gradients from one forward
(:meth:`Implementation.run_with_pullback`)."""

import numpy as np
import pytest
import torch

from lstm_verify.guard import ImplementationError
from lstm_verify.implementation import Implementation, implementation
from lstm_verify.params import Case
from lstm_verify.targets import adapter_for
from tests.catalogue.torch_cells import HandWrittenCell

CASE = Case(3, 4, 5, 6, seed=11)


@pytest.mark.parametrize("name", ["torch-cell", "torch-lstm", "paper-cell", "keras-torch", "numpy", "jax"])
def test_a_run_with_its_pullback_gives_what_run_and_grads_give(name):
    """Where the model records its forward (torch autograd, the NumPy trace) and where the kit
    runs it again for the gradients (JAX), the training path sees the same outputs and gradients
    as the agreement laws, bit for bit."""
    impl = implementation(name, "float64")
    if impl.skip_reason():
        pytest.skip(impl.skip_reason())
    params, xs, h0, c0 = CASE.arrays()
    gh, gc = CASE.loss_weights()
    hs, (h, c), pullback = impl.run_with_pullback(params, xs, h0, c0)
    want_hs, (want_h, want_c) = impl.run(params, xs, h0, c0)
    for got, want in ((hs, want_hs), (h, want_h), (c, want_c)):
        np.testing.assert_array_equal(got, want)
    for (name_, got), (_, want) in zip(pullback(gh, gc).items(), impl.grads(params, xs, h0, c0, gh, gc).items()):
        np.testing.assert_array_equal(got, want, err_msg=name_)


class CountingCell(HandWrittenCell):
    calls = 0

    def forward(self, x, state=None):
        CountingCell.calls += 1
        return super().forward(x, state)


def test_training_runs_a_recording_model_forward_once():
    """A torch model's forward is recorded by autograd and differentiated afterwards: one call
    of the cell per step for the loss and its gradients, not one for each (the forward was a
    third of a torch cell's delayed-XOR training time)."""
    impl = Implementation(adapter_for(CountingCell, "torch-cell"), "float32")
    params, xs, h0, c0 = CASE.arrays()
    CountingCell.calls = 0
    _, _, pullback = impl.run_with_pullback(params, xs, h0, c0)
    pullback(*CASE.loss_weights())
    assert CountingCell.calls == CASE.steps


class _Refuses(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z):
        return z.clone()

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("no backward for this kernel")


class NoBackwardCell(HandWrittenCell):
    def sigmoid(self, z):
        return torch.sigmoid(_Refuses.apply(z))


def test_a_failing_backward_after_a_recorded_run_is_the_implementations_error():
    """The pullback is a call into the implementation like any other: what it raises is
    reported as the implementation's failure, naming what was asked of it."""
    impl = Implementation(adapter_for(NoBackwardCell, "torch-cell"), "float32")
    params, xs, h0, c0 = CASE.arrays()
    _, _, pullback = impl.run_with_pullback(params, xs, h0, c0)
    with pytest.raises(ImplementationError, match="gradients of a run raised RuntimeError: no backward"):
        pullback(*CASE.loss_weights())
