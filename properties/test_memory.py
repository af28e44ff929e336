"""Memory laws: results do not depend on how the caller's arrays are laid out, and an
implementation does not hand out memory it later overwrites."""

import numpy as np
import pytest
from hypothesis import given

from lstm_verify import reference
from lstm_verify.checks import assert_close, assert_identical, check
from lstm_verify.strategies import cases
from lstm_verify.views import LAYOUTS


@given(case=cases(steps=(1,)))
def test_step_independent_of_memory_layout(impl, case):
    """A step given x, h and c as non-contiguous views -- a time slice of batch-first data,
    transposed storage, negative strides -- or as read-only arrays gives the reference's (h, c).

    Custom kernels read memory through a pointer as if it were contiguous; a caller who slices
    a batch-first tensor at step t passes a strided view, and the kernel reads other steps'
    inputs. Every example runs every layout."""
    params, xs, h0, c0 = case.arrays()
    want_h, want_c = reference.lstm_step(params, xs[0], h0, c0)
    bound_h, bound_c = impl.step_bounds(params, xs[0], h0, c0)
    model = impl.load(params)
    for layout, view in LAYOUTS.items():
        x, h, c = (view(a) for a in impl.cast(xs[0], h0, c0))
        got_h, got_c = model.step(x, (h, c))
        assert_close(f"h ({layout})", got_h, want_h, bound_h, impl, case)
        assert_close(f"c ({layout})", got_c, want_c, bound_c, impl, case)


@pytest.mark.requires("sequence")
@given(case=cases(steps=(3, 8)))
def test_sequence_independent_of_memory_layout(impl, case):
    """The sequence API given xs (T, B, I) as the time-major view of batch-first data, in
    transposed storage, with negative strides or read-only (and the states likewise) gives the
    reference's h_t and c_T.

    ``x.transpose(0, 1)`` of batch-first data is the most common way to feed a time-major API,
    and it is not contiguous. Every example runs every layout."""
    params, xs, h0, c0 = case.arrays()
    want = reference.lstm_forward(params, xs, h0, c0)
    bound = impl.forward_bounds(params, xs, h0, c0)
    model = impl.load(params)
    for layout, view in LAYOUTS.items():
        xs_v, h, c = (view(a) for a in impl.cast(xs, h0, c0))
        hs, (_, c_T) = model.sequence(xs_v, (h, c))
        assert_close(f"hs ({layout})", hs, want.hs, bound.hs, impl, case)
        assert_close(f"c_T ({layout})", c_T, want.cs[-1], bound.cs[-1], impl, case)


@given(case=cases(steps=(3,)))
def test_results_not_overwritten(impl, case):
    """Results handed out by one call stay as they were after further calls, and share no memory
    with the arrays passed in.

    An implementation that writes every result into one buffer it reuses (a preallocated
    output, a workspace returned as is) silently changes the caller's earlier h and c -- the
    states a caller keeps for beam search, for a second pass, or to feed back next step."""
    params, xs, h0, c0 = case.arrays()
    model = impl.load(params)
    kept = []
    for x in xs:
        args = impl.cast(x, h0, c0)
        h, c = model.step(args[0], (args[1], args[2]))
        for name, out in (("h", h), ("c", c)):
            shared = [n for n, a in zip(("x", "h", "c"), args) if np.shares_memory(out, a)]
            check(not shared, f"the returned {name} shares memory with the {', '.join(shared)} passed in, "
                              "but should be a new array", impl, case)
        kept.append((h, c, h.copy(), c.copy()))
    for t, (h, c, h_then, c_then) in enumerate(kept):
        assert_identical(f"h of call {t} after {len(kept) - 1 - t} more call(s)", h, h_then, impl, case)
        assert_identical(f"c of call {t} after {len(kept) - 1 - t} more call(s)", c, c_then, impl, case)
