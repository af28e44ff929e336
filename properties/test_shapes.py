"""Shape, dtype and state laws: what a drop-in replacement must do besides the numbers."""

import numpy as np
import pytest
from hypothesis import given

from lstm_verify.agreement import reference_run
from lstm_verify.checks import assert_close, assert_dtype, assert_identical, assert_shape
from lstm_verify.strategies import cases


@given(case=cases())
def test_state_shapes(impl, case):
    """h and c are (B, H) after a step for every batch size B, including 1; a sequence gives
    hs (T, B, H).

    A batch of one that loses its axis (a stray squeeze) breaks every caller that indexes
    the batch."""
    params, xs, h0, c0 = impl.arrays(case)
    model = impl.load(params)
    h, c = model.step(*impl.cast(xs[0]), tuple(impl.cast(h0, c0)))
    assert_shape("h", h, (case.batch, case.hidden_size), impl, case)
    assert_shape("c", c, (case.batch, case.hidden_size), impl, case)
    hs, (h, c) = impl.run(params, xs, h0, c0)
    assert_shape("hs", hs, (case.steps, case.batch, case.hidden_size), impl, case)
    assert_shape("c_T", c, (case.batch, case.hidden_size), impl, case)


@given(case=cases(steps=(1,)))
def test_dtype_preserved(impl, case):
    """h and c come back in the dtype the inputs and parameters went in -- from a step, also when
    no state is given to an implementation that has a default state, and hs, h_T and c_T from
    the sequence API.

    An implementation that silently upcasts (or downcasts) changes its callers' memory
    and precision without telling them; a default state made in the library's default dtype
    (float32, or float64 under JAX's x64) does it only to callers who pass no state."""
    params, xs, h0, c0 = impl.arrays(case)
    model = impl.load(params)
    h, c = model.step(*impl.cast(xs[0]), tuple(impl.cast(h0, c0)))
    results = {"h": h, "c": c}
    if impl.capabilities.optional_state:
        h, c = model.step(*impl.cast(xs[0]))
        results.update({"h from the default state": h, "c from the default state": c})
    if impl.capabilities.sequence:
        hs, (h, c) = model.sequence(*impl.cast(xs), tuple(impl.cast(h0, c0)))
        results.update({"hs (sequence API)": hs, "h_T (sequence API)": h, "c_T (sequence API)": c})
    for name, result in results.items():
        assert_dtype(name, result, impl.dtype, impl, case)


@pytest.mark.requires("optional_state")
@given(case=cases(steps=(1,)))
def test_default_state_is_zeros(impl, case):
    """Calling without a state equals the reference from zeros, also after earlier calls: a step,
    and the sequence API where there is one.

    Users of nn.LSTMCell-like APIs rely on the default, and most calls of nn.LSTM-like ones pass
    no state at all; an implementation that defaults to whatever it saw last leaks one sequence
    into the next."""
    params, xs, h0, c0 = impl.arrays(case)
    model = impl.load(params)
    zeros = np.zeros((case.batch, case.hidden_size))
    want, bound = impl.expected(params, xs, zeros, zeros)
    model.step(*impl.cast(-xs[0]), tuple(impl.cast(h0, c0)))
    h, c = model.step(*impl.cast(xs[0]))
    assert_close("h (no state)", h, want.hs[0], bound.hs[0], impl, case)
    assert_close("c (no state)", c, want.cs[0], bound.cs[0], impl, case)
    if impl.capabilities.sequence:
        model.sequence(*impl.cast(-xs), tuple(impl.cast(h0, c0)))
        hs, (h, c) = model.sequence(*impl.cast(xs))
        assert_close("hs (sequence API, no state)", hs[0], want.hs[0], bound.hs[0], impl, case)
        assert_close("c_T (sequence API, no state)", c, want.cs[0], bound.cs[0], impl, case)


@given(case=cases(steps=(3,)))
def test_no_state_between_calls(impl, case):
    """A call's result depends only on its arguments: the same call after other calls gives
    the same result as on a freshly loaded implementation -- a step's (h, c), and the sequence
    API's outputs and final state.

    State cached inside the object (a stored h, a running buffer, a 'stateful' sequence API that
    continues from its last call whatever state it is given) makes results depend on call
    history."""
    params, xs, h0, c0 = impl.arrays(case)
    fresh = impl.load(params)
    want_h, want_c = fresh.step(*impl.cast(xs[0]), tuple(impl.cast(h0, c0)))
    if impl.capabilities.sequence:
        want_hs, (want_h_T, want_c_T) = fresh.sequence(*impl.cast(xs), tuple(impl.cast(h0, c0)))
    model = impl.load(params)
    for x in xs[1:]:
        model.step(*impl.cast(x), tuple(impl.cast(c0, h0)))
    h, c = model.step(*impl.cast(xs[0]), tuple(impl.cast(h0, c0)))
    assert_identical("h (after other calls)", h, want_h, impl, case)
    assert_identical("c (after other calls)", c, want_c, impl, case)
    if impl.capabilities.sequence:
        model.sequence(*impl.cast(-xs), tuple(impl.cast(c0, h0)))
        hs, (h, c) = model.sequence(*impl.cast(xs), tuple(impl.cast(h0, c0)))
        assert_identical("hs (sequence API, after other calls)", hs, want_hs, impl, case)
        assert_identical("h_T (sequence API, after other calls)", h, want_h_T, impl, case)
        assert_identical("c_T (sequence API, after other calls)", c, want_c_T, impl, case)


@given(case=cases(steps=(3,)))
def test_inputs_not_modified(impl, case):
    """x, h and c passed in are unchanged after a step, a sequence and a gradient call.

    In-place updates of the caller's arrays corrupt the caller's data and any state they
    keep for the next step."""
    params, xs, h0, c0 = impl.arrays(case)
    model = impl.load(params)
    args = impl.cast(xs, h0, c0)
    before = [a.copy() for a in args]
    model.step(args[0][0], (args[1], args[2]))
    if impl.capabilities.sequence:
        model.sequence(args[0], (args[1], args[2]))
    if impl.capabilities.gradients:
        model.grads(*args, *impl.cast(*case.loss_weights()))
    for name, got, want in zip(("xs", "h0", "c0"), args, before):
        assert_identical(f"{name} after the call", got, want, impl, case)


@given(case=cases(steps=(3,)))
def test_batch_rows_independent(impl, case):
    """Each batch row's result, run in the batch and run alone, equals the reference's row: rows
    do not influence each other.

    Reductions over the wrong axis or normalisation across the batch make a sample's output
    depend on its neighbours. Both runs are held to the reference within their bound rather than
    to each other within twice it: half the slack, which bfloat16 needs (at twice the bound, up
    to 11 % of a check's values had a bound as wide as their array's values)."""
    params, xs, h0, c0 = impl.arrays(case)
    want, bound = reference_run(impl, case)
    hs, (_, c) = impl.run(params, xs, h0, c0)
    assert_close("hs (batch)", hs, want.hs, bound.hs, impl, case)
    assert_close("c_T (batch)", c, want.cs[-1], bound.cs[-1], impl, case)
    for b in range(case.batch):
        hs_b, (_, c_b) = impl.run(params, xs[:, b:b + 1], h0[b:b + 1], c0[b:b + 1])
        assert_close(f"hs[:, {b}] alone", hs_b[:, 0], want.hs[:, b], bound.hs[:, b], impl, case)
        assert_close(f"c_T[{b}] alone", c_b[0], want.cs[-1, b], bound.cs[-1, b], impl, case)


@pytest.mark.requires("unbatched")
@given(case=cases(steps=(1,)))
def test_unbatched_input(impl, case):
    """An unbatched x (I,) with state (H,) gives h and c of shape (H,), equal to the reference's
    batched row.

    The adapter declares unbatched input; it must then mean the same computation. Held to the
    reference within its bound, not to the implementation's batched row within twice it: in
    bfloat16 that slack let up to 27 % of a check's values pass at any value of their size."""
    params, xs, h0, c0 = impl.arrays(case)
    model = impl.load(params)
    want, bound = reference_run(impl, case)
    h, c = model.step(*impl.cast(xs[0, 0]), tuple(impl.cast(h0[0], c0[0])))
    assert_shape("h", h, (case.hidden_size,), impl, case)
    assert_close("h (unbatched)", h, want.hs[0, 0], bound.hs[0, 0], impl, case)
    assert_close("c (unbatched)", c, want.cs[0, 0], bound.cs[0, 0], impl, case)
