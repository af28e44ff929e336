"""The long-lag laws (adding problem, embedded Reber): their data are what the paper describes,
they pass a correct implementation, catch one whose backward pass does not reach across time,
and run only in the thorough profile."""

import re

import numpy as np
import pytest

import properties
from lstm_verify.checks import LawViolation
from lstm_verify.implementation import implementation
from lstm_verify.tasks import REBER_SYMBOLS, adding_data, reber_data
from tests.catalogue import CATALOGUE

PROPERTIES = properties.collect()
LAWS = ["test_adding_problem_solvable", "test_embedded_reber_solvable"]
REBER_STRING = re.compile(r"B(TS*X(XT*VP)*(S|XT*VV)|PT*V(PXT*V)*(V|PS))E")
"""Reber's grammar as a regular expression (an inner string B ... E)."""


def test_adding_data_marks_two_values_and_targets_their_scaled_sum():
    xs, y = adding_data(500, 40, seed=3)
    marked = xs[:, :, 1] == 1.0
    assert (marked.sum(axis=0) == 2).all()
    for b in range(500):
        t1, t2 = np.flatnonzero(marked[:, b])
        assert t1 < 20 and t2 < 20 and min(t1, t2) < 10
        assert y[b] == pytest.approx(0.5 + (xs[t1, b, 0] + xs[t2, b, 0]) / 4.0)
    assert (xs[-1, :, 1] == -1.0).all() and (np.abs(xs[:, :, 0]) <= 1.0).all()


@pytest.mark.parametrize("length", [7, 12, 30])
def test_reber_data_are_embedded_reber_strings_cut_before_the_closing_symbol(length):
    xs, y = reber_data(300, length, seed=length)
    assert xs.shape == (length, 300, len(REBER_SYMBOLS)) and (xs.sum(axis=-1) == 1).all()
    for b in range(300):
        text = "".join(REBER_SYMBOLS[i] for i in xs[:, b].argmax(-1))
        assert text[0] == "B" and REBER_STRING.fullmatch(text[2:]), text
        assert text[1] == "TP"[y[b]]
    assert 0.4 < y.mean() < 0.6


@pytest.mark.parametrize("law", LAWS)
def test_long_lag_laws_run_only_in_the_thorough_profile(law):
    impl = implementation("torch-cell", "float32")
    assert properties.skip_reason(PROPERTIES[law], impl, "thorough") is None
    reason = properties.skip_reason(PROPERTIES[law], impl, "ci")
    assert reason.startswith("runs only in the thorough profile (trains up to 3 networks") and "is ci" in reason


@pytest.mark.parametrize("law", LAWS)
def test_long_lag_law_passes_a_correct_implementation(law):
    PROPERTIES[law](impl=implementation("torch-lstm", "float32"))


@pytest.mark.parametrize("law", LAWS)
def test_long_lag_law_catches_truncated_bptt(law, request):
    """Minutes of training that never succeeds: run in the thorough profile only."""
    if request.config.getoption("--lstm-profile") != "thorough":
        pytest.skip("trains 3 networks to their full budget (minutes); run with --lstm-profile thorough")
    entry = next(e for e in CATALOGUE if e.name == "TruncatedBPTTCell")
    with pytest.raises(LawViolation, match="TruncatedBPTTCell.*length=50"):
        PROPERTIES[law](impl=entry.implementation())
