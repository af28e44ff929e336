"""Memory laws: results do not depend on how the caller's arrays are laid out, and an
implementation does not hand out memory it later overwrites."""

import numpy as np
import pytest
from hypothesis import given

from lstm_verify.agreement import reference_run
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
    params, xs, h0, c0 = impl.arrays(case)
    want, bound = reference_run(impl, case)
    model = impl.load(params)
    for layout, view in LAYOUTS.items():
        x, h, c = (view(a) for a in impl.cast(xs[0], h0, c0))
        got_h, got_c = model.step(x, (h, c))
        assert_close(f"h ({layout})", got_h, want.hs[0], bound.hs[0], impl, case)
        assert_close(f"c ({layout})", got_c, want.cs[0], bound.cs[0], impl, case)


@pytest.mark.requires("sequence")
@given(case=cases(steps=(3, 8)))
def test_sequence_independent_of_memory_layout(impl, case):
    """The sequence API given xs (T, B, I) as the time-major view of batch-first data, in
    transposed storage, with negative strides or read-only (and the states likewise) gives the
    reference's h_t and c_T.

    ``x.transpose(0, 1)`` of batch-first data is the most common way to feed a time-major API,
    and it is not contiguous. Every example runs every layout."""
    params, xs, h0, c0 = impl.arrays(case)
    want, bound = reference_run(impl, case)
    model = impl.load(params)
    for layout, view in LAYOUTS.items():
        xs_v, h, c = (view(a) for a in impl.cast(xs, h0, c0))
        hs, (_, c_T) = model.sequence(xs_v, (h, c))
        assert_close(f"hs ({layout})", hs, want.hs, bound.hs, impl, case)
        assert_close(f"c_T ({layout})", c_T, want.cs[-1], bound.cs[-1], impl, case)


def _hand_outs(call, results, args, impl, case):
    """``results`` (name -> array) of ``call``, after checking none shares memory with ``args``
    (name -> array passed in): with a copy of each, to compare after later calls."""
    for name, out in results.items():
        shared = [n for n, a in args.items() if np.shares_memory(out, a)]
        check(not shared, f"the {name} returned by {call} shares memory with the {', '.join(shared)} passed in, "
                          "but should be a new array", impl, case)
    return [(f"{name} of {call}", out, out.copy()) for name, out in results.items()]


@given(case=cases(steps=(3,)))
def test_results_not_overwritten(impl, case):
    """Results handed out by one call -- a step's h and c, and the sequence API's outputs and
    final state -- stay as they were after further calls, and share no memory with the arrays
    passed in.

    An implementation that writes every result into one buffer it reuses (a preallocated
    output, a workspace returned as is) silently changes the caller's earlier h and c -- the
    states a caller keeps for beam search, for a second pass, or to feed back next step."""
    params, xs, h0, c0 = impl.arrays(case)
    model = impl.load(params)
    kept = []
    for t, x in enumerate(xs):
        args = dict(zip(("x", "h", "c"), impl.cast(x, h0, c0)))
        h, c = model.step(args["x"], (args["h"], args["c"]))
        kept += _hand_outs(f"step call {t}", {"h": h, "c": c}, args, impl, case)
    if impl.capabilities.sequence:
        for k, inputs in enumerate((xs, xs[::-1])):  # the same shapes, other values
            args = dict(zip(("xs", "h0", "c0"), impl.cast(inputs, h0, c0)))
            hs, (h, c) = model.sequence(args["xs"], (args["h0"], args["c0"]))
            kept += _hand_outs(f"sequence call {k}", {"hs": hs, "h_T": h, "c_T": c}, args, impl, case)
    for name, out, then in kept:
        assert_identical(f"{name}, after the calls that followed it", out, then, impl, case)
