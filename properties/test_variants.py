"""The ONNX ``LSTM`` operator's variants and options: peepholes, clip, coupled gates, activation
overrides, ``layout=1`` and every opset, each against the reference's :class:`Variant`.

An implementation that loads any variant (the ONNX runtimes, TensorFlow's fused ops) is checked in
the variant each law draws; one that computes a variant of its own (a TARGET's declared or
``--variant``) in that variant, by each law about a feature it has."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lstm_verify.agreement import as_stack, row_references
from lstm_verify.checks import assert_close, assert_shape
from lstm_verify.implementation import Implementation
from lstm_verify.probes import PEEPHOLE_GATES, exact_activation, probe_peephole, probe_peephole_bound
from lstm_verify.reference import PLAIN, Variant
from lstm_verify.strategies import activations, cases


def check_variant(impl, case, variant: Variant, reverse: bool) -> None:
    """The implementation's run (its sequence API, forward or reverse, else a loop of its step) under
    ``variant`` (its own, unless it loads any) against the reference's; a skip where the
    implementation cannot build ``variant``."""
    variant = variant if impl.capabilities.variants else impl.variant
    reason = impl.adapter.unsupported_variant(variant)
    if reason:
        pytest.skip(reason)
    sequence = impl.capabilities.sequence
    reverse = reverse and sequence and impl.capabilities.reverse  # forward only without a reverse sequence API
    params, xs, h0, c0 = case.arrays()
    params = replace(params, p=case.peepholes()) if variant.peepholes else params
    order = slice(None, None, -1 if reverse else 1)
    want, bound = impl.expected(params, xs[order], h0, c0, variant)
    model, state = impl.load_variant(params, variant), tuple(impl.cast(h0, c0))
    hs, (h, c) = (model.sequence(*impl.cast(xs), state, reverse=reverse) if sequence
                  else impl.loop(model, xs, state))
    context = (case, variant, f"reverse={reverse}")
    assert_close("hs", hs, want.hs[order], bound.hs[order], impl, context)
    assert_close("final h", h, want.hs[-1], bound.hs[-1], impl, context)
    assert_close("final c", c, want.cs[-1], bound.cs[-1], impl, context)


@pytest.mark.requires("peepholes")
@given(case=cases(steps=(1, 3, 8)), reverse=st.booleans())
def test_peepholes_agree_with_reference(impl, case, reverse):
    """With peepholes P (the blocks p_i, p_f, p_o in the layout's order: ONNX's i, o, f), every h_t
    and the final (h, c) match the reference: i and f read c_{t-1}, o reads the new c_t.

    Which cell each peephole reads and which gate each block of P belongs to are where ports of
    peephole LSTMs go wrong; with P zero, as in every exported model, nothing shows."""
    check_variant(impl, case, Variant(peepholes=True), reverse)


@pytest.mark.requires("clip")
@given(case=cases(steps=(1, 3, 8), weight_scales=(1.0, 3.0)), clip=st.sampled_from((0.5, 1.0, 2.5)),
       reverse=st.booleans())
def test_clip_agrees_with_reference(impl, case, clip, reverse):
    """With ``clip``, every activation's input (each gate pre-activation, and h's input c_t) is
    bounded to [-clip, clip] before the activation, and the results match the reference (in the
    reading of ``clip`` the implementation's variant asks for: the specification's by default).

    The operator says clip "is applied to the input of activations"; leaving h's input
    unclipped, clipping the cell state itself, after the activation, or before adding the bias
    or the peephole are the ways to get it wrong, and the weights here are large enough for the
    clip to bite."""
    check_variant(impl, case, Variant(clip=clip, clip_reading=impl.variant.clip_reading), reverse)


@pytest.mark.requires("input_forget")
@given(case=cases(steps=(1, 3, 8)), peepholes=st.booleans(), reverse=st.booleans())
def test_coupled_gates_agree_with_reference(impl, case, peepholes, reverse):
    """With ``input_forget=1`` the forget gate is 1 - i (coupled), whatever f's own weights and
    peephole say, and the results match the reference.

    An implementation that ignores the attribute computes an ordinary LSTM and passes every test
    that never sets it."""
    check_variant(impl, case, Variant(input_forget=True, peepholes=peepholes), reverse)


@pytest.mark.requires("activations")
@given(case=cases(steps=(1, 3)), f=activations(), g=activations(), h=activations(), reverse=st.booleans())
def test_activations_agree_with_reference(impl, case, f, g, h, reverse):
    """With the activation list overridden (f for i, f, o; g for the candidate; h for the readout:
    any of the eleven ONNX activations, alpha and beta consumed in order by those that take them),
    the results match the reference.

    Exporters write these attributes rarely, so a runtime's handling of them is rarely exercised:
    a swapped f and g, a default alpha, or an alpha list read positionally all show here."""
    check_variant(impl, case, Variant(f, g, h), reverse)


@pytest.mark.requires("peephole_probe")
@given(z=st.lists(st.floats(0.5, 4.0) | st.floats(-4.0, -0.5), min_size=4, max_size=4).map(np.array))
def test_peephole_order(impl, z):
    """Driving one peephole at a time (zero weights, c_0 = 1), the gate it feeds reads sigmoid(z):
    the implementation takes the blocks of P in the order it declares (ONNX: i, o, f).

    Peepholes that are the same for every gate cannot tell a permuted P from the right one."""
    for gate in PEEPHOLE_GATES:
        assert_close(f"gate {gate} (through its peephole)", probe_peephole(impl, gate, z), exact_activation(PLAIN.f, z),
                     probe_peephole_bound(impl, gate, z), impl, f"probe z={z.tolist()}")


def _directions_and_lengths(impl, data, case) -> tuple[int, np.ndarray | None]:
    """Two directions and per-row lengths where the implementation has them."""
    directions = data.draw(st.sampled_from((1, 2) if impl.capabilities.bidirectional else (1,)), label="directions")
    lengths = st.lists(st.integers(1, case.steps), min_size=case.batch, max_size=case.batch).map(np.array)
    lengths = data.draw(st.none() | lengths if impl.capabilities.lengths else st.none(), label="lengths")
    return directions, lengths


def _run_onnx(impl: Implementation, case, directions: int, lengths: np.ndarray | None):
    """The node's Y (T, B, D * H) and final states (D, B, H)."""
    layers, xs, h0, c0 = as_stack(case, directions)
    if directions == 1:
        model, state = impl.load(layers[0][0]), (h0[0], c0[0])
    else:
        model, state = impl.load_stack(layers), (h0, c0)
    hs, (h, c) = model.sequence(*impl.cast(xs), tuple(impl.cast(*state)), lengths=lengths)
    return hs, ((h, c) if directions == 2 else (h[None], c[None]))


@pytest.mark.requires("sequence", "batch_major")
@given(case=cases(steps=(1, 4)), data=st.data())
def test_batch_major_equals_time_major(impl, case, data):
    """With ``layout=1`` (X, initial states, Y, Y_h, Y_c batch-major) the node gives the same
    outputs and final states as with ``layout=0``, for one and two directions, with and without
    ``sequence_lens``.

    ``layout`` (opset 14) swaps two axes of six tensors; an implementation that reads a
    batch-major tensor as time-major mixes batch rows into time steps. (Both runs are within
    their error bound of the reference, so within twice that of each other.)"""
    directions, lengths = _directions_and_lengths(impl, data, case)
    time_major = Implementation(impl.adapter.at(layout=0), impl.dtype, impl.time_limit)
    batch_major = Implementation(impl.adapter.at(layout=1), impl.dtype, impl.time_limit)
    want_hs, (want_h, want_c) = _run_onnx(time_major, case, directions, lengths)
    hs, (h, c) = _run_onnx(batch_major, case, directions, lengths)
    context = (case, f"directions={directions}", f"lengths={lengths if lengths is None else lengths.tolist()}")
    for name, got, want in (("Y", hs, want_hs), ("Y_h", h, want_h), ("Y_c", c, want_c)):
        assert_shape(f"{name} (layout=1, read time-major)", got, np.shape(want), impl, context)
    rows = row_references(impl, *as_stack(case, directions), lengths)
    for b, (_, (bound_hs, bound_h, bound_c)) in enumerate(rows):
        n = len(bound_hs)
        assert_close(f"Y[:{n}, {b}] (layout=1)", hs[:n, b], want_hs[:n, b], 2 * bound_hs[:, 0], impl, context)
        assert_close(f"Y_h[:, {b}] (layout=1)", h[:, b], want_h[:, b], 2 * bound_h[:, 0], impl, context)
        assert_close(f"Y_c[:, {b}] (layout=1)", c[:, b], want_c[:, b], 2 * bound_c[:, 0], impl, context)


@pytest.mark.requires("sequence", "opsets")
@given(case=cases(steps=(1, 4)), data=st.data())
def test_every_opset_agrees_with_reference(impl, case, data):
    """At every opset that defines LSTM (7, 14, 22) that the runtime has, the node gives the
    reference's outputs and final states, for one and two directions, with and without
    ``sequence_lens``.

    Runtimes register a kernel per opset range; a model exported at an older opset runs on a
    kernel the newest-opset tests never reach."""
    directions, lengths = _directions_and_lengths(impl, data, case)
    rows = row_references(impl, *as_stack(case, directions), lengths)
    for opset in impl.capabilities.opsets:
        at = Implementation(impl.adapter.at(opset=opset), impl.dtype, impl.time_limit)
        hs, (h, c) = _run_onnx(at, case, directions, lengths)
        context = (case, f"opset={opset}", f"directions={directions}", f"lengths={lengths}")
        for b, ((want_hs, want_h, want_c), (bound_hs, bound_h, bound_c)) in enumerate(rows):
            assert_close(f"Y[:, {b}] at opset {opset}", hs[:len(want_hs), b], want_hs[:, 0], bound_hs[:, 0], impl,
                         context)
            assert_close(f"Y_h[:, {b}] at opset {opset}", h[:, b], want_h[:, 0], bound_h[:, 0], impl, context)
            assert_close(f"Y_c[:, {b}] at opset {opset}", c[:, b], want_c[:, 0], bound_c[:, 0], impl, context)
