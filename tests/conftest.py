"""Tests of the kit itself. Properties are called directly on chosen implementations; the
hypothesis profile is the plugin's ``--lstm-profile`` (default ``ci``: deadline off, derandomized),
loaded here even when no ``--lstm-*`` option is given (the plugin itself loads a profile only in a
session that checks implementations, to leave other projects' hypothesis settings alone)."""

import os

import pytest
from hypothesis import settings

from lstm_verify.pytest_plugin import budget_shrinking

os.environ.setdefault("KERAS_BACKEND", "torch")  # keras-torch runs in this process; the other back ends in
# sessions of their own (tests/test_keras.py)


def pytest_configure(config: pytest.Config) -> None:
    settings.load_profile(config.getoption("--lstm-profile"))


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
