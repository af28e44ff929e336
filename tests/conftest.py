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



@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    """The laws the kit's own tests run always run (``LSTM_VERIFY_FRESH``): none is served from a
    verdict stored by an earlier test or run (tests/test_store.py tests the store)."""
    monkeypatch.setenv("LSTM_VERIFY_FRESH", "1")
