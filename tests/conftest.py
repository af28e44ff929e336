"""Tests of the kit itself. Properties are called directly on chosen implementations; the
hypothesis profile is the plugin's (``--lstm-profile``; ``ci`` when CI is set)."""

import pytest

from lstm_verify.pytest_plugin import budget_shrinking


@pytest.fixture
def unshrunk():
    """For tests of whether a law catches a defect, not of how far its counterexample shrinks
    (tests/test_verdict_speed.py and test_cli_and_api.py check that): shrinking stops at once."""
    undo = budget_shrinking(0)
    yield
    undo()

