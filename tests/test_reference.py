"""The oracle: its backward pass against central finite differences of its own forward, its
stacks and projection against torch in float64."""

import numpy as np
import pytest

from dataclasses import replace

from lstm_verify import error_model, reference
from lstm_verify.params import Case, Params, StackCase
from lstm_verify.reference import CLIP_READINGS, Activation, Variant


def _loss(params: Params, xs, h0, c0, gh, gc, variant: Variant = reference.PLAIN) -> float:
    trace = reference.lstm_forward(params, xs, h0, c0, variant=variant)
    return float((trace.hs * gh).sum() + (trace.cs[-1] * gc).sum())


def _numeric(f, a: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        keep = a[idx]
        a[idx] = keep + eps
        up = f()
        a[idx] = keep - eps
        down = f()
        a[idx] = keep
        grad[idx] = (up - down) / (2 * eps)
    return grad


@pytest.mark.parametrize("case", [Case(2, 3, 4, steps=5, seed=1), Case(1, 2, 1, steps=3, seed=2),
                                  Case(3, 4, 2, steps=1, seed=3, weight_scale=2.0)], ids=repr)
def test_lstm_backward_matches_finite_differences(case):
    params, xs, h0, c0 = case.arrays()
    gh, gc = case.loss_weights()
    got = reference.lstm_backward(params, xs, h0, c0, gh, gc)
    arrays = {"x": xs, "h0": h0, "c0": c0, **dict(params.items())}
    for name, a in arrays.items():
        want = _numeric(lambda: _loss(params, xs, h0, c0, gh, gc), a)
        np.testing.assert_allclose(getattr(got, name), want, rtol=1e-6, atol=1e-8, err_msg=name)


def test_rnn_backward_matches_finite_differences():
    rng = np.random.default_rng(0)
    w_ih, w_hh, b = rng.normal(size=(4, 3)), rng.normal(size=(4, 4)) / 2, rng.normal(size=4)
    xs, h0, gh = rng.normal(size=(5, 2, 3)), rng.normal(size=(2, 4)), rng.normal(size=(5, 2, 4))
    got = reference.rnn_backward(w_ih, w_hh, b, xs, h0, gh)

    def loss() -> float:
        return float((reference.rnn_forward(w_ih, w_hh, b, xs, h0) * gh).sum())

    for name, a in {"x": xs, "h0": h0, "w_ih": w_ih, "w_hh": w_hh, "b": b}.items():
        np.testing.assert_allclose(got[name], _numeric(loss, a), rtol=1e-6, atol=1e-8, err_msg=name)


def test_lstm_step_is_the_equations():
    """One hand-computed unit: zero weights, biases z_i, z_f, z_g, z_o."""
    p = Params.zeros(1, 1).with_gate_biases(i=0.3, f=-0.2, g=0.7, o=1.1)
    h, c = reference.lstm_step(p, np.zeros((1, 1)), np.zeros((1, 1)), np.full((1, 1), 0.5))
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    want_c = sig(-0.2) * 0.5 + sig(0.3) * np.tanh(0.7)
    np.testing.assert_allclose(c, [[want_c]], rtol=1e-15)
    np.testing.assert_allclose(h, [[sig(1.1) * np.tanh(want_c)]], rtol=1e-15)


@pytest.mark.parametrize("stack", [StackCase(Case(2, 3, 4, steps=4, seed=5), layers=2, directions=2, proj_size=2),
                                   StackCase(Case(1, 2, 3, steps=3, seed=6), layers=3),
                                   StackCase(Case(3, 4, 2, steps=2, seed=7), directions=2)], ids=repr)
def test_stack_forward_matches_torch_float64(stack):
    """The stack oracle (layer order, direction order, re-reversed backward outputs, projection)
    against torch's nn.LSTM in float64, an independent implementation of the same layout."""
    torch = pytest.importorskip("torch")
    layers, xs, h0, c0 = stack.arrays()
    lstm = torch.nn.LSTM(stack.case.input_size, stack.case.hidden_size, num_layers=stack.layers,
                         bidirectional=stack.directions == 2, proj_size=stack.proj_size or 0).double()
    names = {"w_ih": "weight_ih", "w_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh", "w_hr": "weight_hr"}
    with torch.no_grad():
        for l, layer in enumerate(layers):
            for d, p in enumerate(layer):
                for key, value in p.items():
                    getattr(lstm, f"{names[key]}_l{l}{'_reverse' if d else ''}").copy_(torch.from_numpy(value))
        hs, (h, c) = lstm(torch.from_numpy(xs), (torch.from_numpy(h0), torch.from_numpy(c0)))
    want = reference.stack_forward(layers, xs, h0, c0)
    for name, got, ref in zip(("hs", "h_n", "c_n"), (hs, h, c), want):
        np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12, atol=1e-13, err_msg=name)


def test_lstm_backward_refuses_a_projection():
    layers, xs, h0, c0 = StackCase(Case(1, 2, 3, steps=2), proj_size=1).arrays()
    gh = np.ones((2, 1, 1))
    with pytest.raises(ValueError, match="projection"):
        reference.lstm_backward(layers[0][0], xs, h0[0], c0[0], gh, np.ones((1, 3)))


VARIANTS = [
    Variant(peepholes=True),
    Variant(clip=0.8),
    Variant(clip=0.8, clip_reading="gates", peepholes=True),
    Variant(clip=0.5, clip_reading="cell", peepholes=True),
    Variant(input_forget=True),
    Variant(input_forget=True, peepholes=True, clip=0.4),
    Variant(input_forget=True, clip=0.5, clip_reading="cell"),
    Variant(f=Activation("HardSigmoid", 0.3, 0.4), g=Activation("Relu"), h=Activation("Softsign")),
    Variant(f=Activation("Affine", 0.5, 0.2), g=Activation("LeakyRelu", 0.1), h=Activation("ThresholdedRelu", 0.2)),
    Variant(f=Activation("Softplus"), g=Activation("ScaledTanh", 1.5, 0.7), h=Activation("Elu", 0.6)),
    Variant(f=Activation("Tanh"), g=Activation("Sigmoid"), h=Activation("Affine")),
]


@pytest.mark.parametrize("variant", VARIANTS, ids=repr)
def test_variant_backward_matches_finite_differences(variant):
    """BPTT of every ONNX variant (peepholes, each clip reading, coupled gates, each activation)
    against central differences of its own forward, dL/dp included. A clip bites in every place
    its reading puts it: the run differs from the unclipped one and, for ``spec``, from ``gates``."""
    case = Case(2, 3, 4, steps=4, seed=11)
    params, xs, h0, c0 = case.arrays()
    params = replace(params, p=case.peepholes()) if variant.peepholes else params
    gh, gc = case.loss_weights()
    if variant.clip is not None:
        others = [replace(variant, clip=None)]
        others += [replace(variant, clip_reading="gates")] if variant.clip_reading == "spec" else []
        for other in others:
            assert _loss(params, xs, h0, c0, gh, gc, variant) != _loss(params, xs, h0, c0, gh, gc, other), other
    got = reference.lstm_backward(params, xs, h0, c0, gh, gc, variant=variant)
    assert (got.p is not None) == variant.peepholes
    for name, a in {"x": xs, "h0": h0, "c0": c0, **dict(params.items())}.items():
        want = _numeric(lambda: _loss(params, xs, h0, c0, gh, gc, variant), a)
        np.testing.assert_allclose(getattr(got, name), want, rtol=1e-6, atol=1e-8, err_msg=name)


def test_variant_step_is_the_onnx_equations():
    """One hand-computed unit with every variant feature: i and f read c_{t-1} through p_i, p_f,
    o reads c_t through p_o, clip bounds the pre-activations (not the cell), f = 1 - i when coupled."""
    p = replace(Params.zeros(1, 1).with_gate_biases(i=0.3, f=-0.2, g=2.5, o=1.1), p=np.array([0.4, -0.7, 0.9]))
    c0, sig = 0.5, (lambda z: 1 / (1 + np.exp(-z)))  # noqa: E731
    for coupled in (False, True):
        h, c = reference.lstm_step(p, np.zeros((1, 1)), np.zeros((1, 1)), np.full((1, 1), c0),
                                   variant=Variant(peepholes=True, clip=2.0, input_forget=coupled))
        i = sig(0.3 + 0.4 * c0)
        f = 1 - i if coupled else sig(-0.2 - 0.7 * c0)
        want_c = f * c0 + i * np.tanh(2.0)
        np.testing.assert_allclose(c, [[want_c]], rtol=1e-15)
        np.testing.assert_allclose(h, [[sig(1.1 + 0.9 * want_c) * np.tanh(want_c)]], rtol=1e-15)


@pytest.mark.parametrize("reading", CLIP_READINGS)
def test_clip_readings_are_their_equations(reading):
    """One hand-computed unit, two steps, whose gates and cell all exceed clip=1: ``spec`` clips every
    pre-activation and h's input, ``gates`` the pre-activations only, ``cell`` the cell state
    itself (carried clipped into the next step) and no gate."""
    p = Params.zeros(1, 1).with_gate_biases(i=3.0, f=2.0, g=3.0, o=1.5)
    sig, clip = (lambda z: 1 / (1 + np.exp(-z))), (lambda z: min(max(z, -1.0), 1.0))  # noqa: E731
    gate = clip if reading != "cell" else (lambda z: z)  # noqa: E731
    i, f, g, o = sig(gate(3.0)), sig(gate(2.0)), np.tanh(gate(3.0)), sig(gate(1.5))
    c, want_c, want_h = 2.0, [], []
    for _ in range(2):
        c = f * c + i * g
        c = clip(c) if reading == "cell" else c
        want_c.append(c)
        want_h.append(o * np.tanh(clip(c) if reading == "spec" else c))
    trace = reference.lstm_forward(p, np.zeros((2, 1, 1)), np.zeros((1, 1)), np.full((1, 1), 2.0),
                                   variant=Variant(clip=1.0, clip_reading=reading))
    np.testing.assert_allclose(trace.cs.ravel(), want_c, rtol=1e-15)
    np.testing.assert_allclose(trace.hs.ravel(), want_h, rtol=1e-15)


def test_clip_reading_is_checked_and_moot_without_clip():
    with pytest.raises(ValueError, match="clip_reading"):
        Variant(clip=1.0, clip_reading="cells")
    assert Variant(clip_reading="gates") == reference.PLAIN


def test_plain_variant_is_the_default():
    case = Case(2, 3, 4, steps=3, seed=4)
    params, xs, h0, c0 = case.arrays()
    explicit = Variant(Activation("Sigmoid"), Activation("Tanh"), Activation("Tanh"))
    a, b = reference.lstm_forward(params, xs, h0, c0), reference.lstm_forward(params, xs, h0, c0, variant=explicit)
    np.testing.assert_array_equal(a.hs, b.hs)
    np.testing.assert_array_equal(a.cs, b.cs)


def test_scaled_tanh_needs_alpha_and_beta():
    with pytest.raises(ValueError, match="ScaledTanh"):
        Activation("ScaledTanh")(np.zeros(2))


@pytest.mark.parametrize("variant", VARIANTS, ids=repr)
def test_stack_bounds_follow_the_variant(variant):
    """A bidirectional stack's error bounds are, per direction, the bounds of that direction's
    own run of the same variant (the backward one over reversed time): the stack laws of an ONNX
    node with peepholes, clip or other activations are held to that cell's error, not the plain one's."""
    stack = StackCase(Case(2, 3, 4, steps=3, seed=5), directions=2)
    layers, xs, h0, c0 = stack.arrays()
    layers = [[replace(p, p=stack.case.peepholes()) if variant.peepholes else p for p in layer] for layer in layers]
    hs, h_n, c_n = error_model.stack_bounds(layers, xs, h0, c0, "float32", variant=variant)
    for d, order in enumerate((slice(None), slice(None, None, -1))):
        want = error_model.forward_bounds(layers[0][d], xs[order], h0[d], c0[d], "float32", variant=variant)
        np.testing.assert_array_equal(hs[..., d * 4:(d + 1) * 4], want.hs[order])
        np.testing.assert_array_equal(h_n[d], want.hs[-1])
        np.testing.assert_array_equal(c_n[d], want.cs[-1])


def test_error_arithmetic_leaves_its_operands_alone():
    """The error model updates fresh result arrays in place and keeps the float32 squares of an
    operand it reuses (the weights, every step): its operands' values and errors are left as they
    were, and a sum's error is still ``sqrt(e_a^2 + e_b^2 + (u_s |a + b|)^2) + tiny``."""
    units = error_model._Units.of("float16", error_model.precision())
    ar = error_model._Arithmetic(units)
    rng = np.random.default_rng(0)
    a, b, w = ar.stored(rng.normal(size=(3, 4))), ar.stored(rng.normal(size=(3, 4))), ar.stored(rng.normal(size=(4, 5)))
    kept = [(x.v.copy(), x.e.copy()) for x in (a, b, w)]
    total = ar.add(a, b)
    for op in (ar.mul, lambda x, y: ar.matmul(x, w), lambda x, y: ar.matmul(y, w), lambda x, y: ar.one_minus(x),
               lambda x, y: ar.one_minus_square(y), lambda x, y: ar.activation(x, reference.PLAIN.h)):
        op(a, b)
    for x, (v, e) in zip((a, b, w), kept):
        np.testing.assert_array_equal(x.v, v)
        np.testing.assert_array_equal(x.e, e)
    want = np.sqrt(a.e ** 2 + b.e ** 2 + (units.store * (a.v + b.v)) ** 2) + units.tiny
    np.testing.assert_allclose(total.e, want, rtol=1e-14)


def test_oracle_extended_where_small() -> None:
    """Where NumPy has an extended format, the oracle computes a small run in it and hands back its
    values rounded to float64 (within ``u |v|`` of the extended ones, and not float64's own results);
    a large run it computes in float64."""
    if reference.EXTENDED is None:
        pytest.skip("NumPy's longdouble is not x87's here: the oracle computes in float64")
    case = Case(2, 3, 4, steps=8, seed=1)
    params, xs, h0, c0 = case.arrays()
    assert reference.oracle_dtype(params, xs, h0) == reference.EXTENDED
    extended = reference.lstm_forward(params, xs, h0, c0, dtype=reference.EXTENDED)
    got = reference.lstm_forward(params, xs, h0, c0)
    grads = reference.lstm_backward(params, xs, h0, c0, *case.loss_weights())
    assert got.hs.dtype == grads.w_hh.dtype == np.float64
    assert (np.abs(got.hs - extended.hs) <= 2.0 ** -53 * np.abs(extended.hs)).all()
    assert (got.hs != reference.lstm_forward(params, xs, h0, c0, dtype=np.float64).hs).any()
    large = Params.zeros(1024, 1024)
    assert reference.oracle_dtype(large, np.zeros((1, 32, 1024)), np.zeros((32, 1024))) == np.float64
