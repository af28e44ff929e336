"""The comparison helpers record what they saw, and the reports show it: a bound as wide as
the values it guards is counted as loose, so a green verdict says where it could not see."""

import numpy as np
import pytest

from lstm_verify.checks import LawViolation, assert_close, observations
from lstm_verify.report.text import LOOSE, matrix
from lstm_verify.results import Result


class _Impl:
    id, dtype, precision = "made-up-bfloat16", "bfloat16", "ieee"


def test_a_bound_as_wide_as_the_array_is_loose():
    observations()
    want = np.array([[0.5, -0.25], [0.125, 0.0]])
    assert_close("h", want + 0.01, want, np.full(want.shape, 0.02), _Impl())
    assert_close("c", want, want, np.array([[0.1, 0.5], [0.7, 0.01]]), _Impl())
    seen = observations()
    assert (seen.compared, seen.loose) == (8, 2)  # 0.5 and 0.7 reach max |c| = 0.5
    assert 0.49 < seen.worst < 0.51


def test_an_exactly_zero_array_has_no_scale_to_be_loose_against():
    observations()
    assert_close("dh0", np.zeros(3), np.zeros(3), np.full(3, 1e-3), _Impl())
    assert observations().loose == 0


def test_a_failing_comparison_still_counts_what_it_compared():
    observations()
    with pytest.raises(LawViolation, match=r"h\[1\]=.* 1 of 2 values off"):
        assert_close("h", np.array([0.5, 0.9]), np.array([0.5, 0.1]), np.full(2, 1e-3), _Impl())
    assert observations().compared == 2


def test_the_matrix_shows_the_loose_share_per_implementation_and_says_what_it_means():
    results = [Result("a-float32", "law1", "passed", compared=1000),
               Result("b-bfloat16", "law1", "passed", compared=1000, loose=3),
               Result("b-bfloat16", "law2", "passed", compared=1000, loose=1),
               Result("c-float64", "law1", "skipped", reason="no")]
    text = matrix(results)
    row = next(line for line in text.splitlines() if line.startswith("loose"))
    assert row.split()[1:] == ["0", "0.3%", "-"]  # b's worst check: 3 of 1000
    assert LOOSE in text
    assert LOOSE not in matrix(results[:1])
