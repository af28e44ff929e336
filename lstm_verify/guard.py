"""Keeps the kit going whatever an implementation does: every call into it is timed out,
and exceptions and malformed returns become one clear :class:`ImplementationError`."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from functools import partial
from typing import Any, Callable, Iterator

import numpy as np

from lstm_verify.adapters.base import Model, NativeGrads, State

DEFAULT_TIME_LIMIT = 60.0
_HUNG: set[str] = set()


class ImplementationError(AssertionError):
    """The implementation under test raised, hung, or returned something that is not (h, c)."""


class _Timeout(BaseException):
    pass


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`_Timeout` in the main thread after ``seconds`` (no limit in other threads)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def alarm(signum: int, frame: Any) -> None:
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def guarded_call(impl_id: str, what: str, fn: Callable, *args: Any, limit: float = DEFAULT_TIME_LIMIT) -> Any:
    """``fn(*args)``, with exceptions and hangs reported as :class:`ImplementationError`.

    An implementation that hung once is not called again (each later call fails at once),
    so a hang costs one time limit, not one per hypothesis example."""
    __tracebackhide__ = True
    if impl_id in _HUNG:
        message = f"{impl_id} hung earlier (no return within {limit:g} s); not called again"
    else:
        try:
            with time_limit(limit):
                return fn(*args)
        except _Timeout:
            _HUNG.add(impl_id)
            message = f"{impl_id}: {what} did not return within {limit:g} s"
        except ImplementationError:
            raise
        except Exception as exc:
            raise ImplementationError(f"{impl_id}: {what} raised {type(exc).__name__}: {exc}") from exc
    # one raise for both, so hypothesis sees the same failure when it replays a hang
    raise ImplementationError(message)


def _pair(impl_id: str, what: str, out: Any) -> State:
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise ImplementationError(f"{impl_id}: {what} returned {type(out).__name__}, but should return (h, c)")
    return np.asarray(out[0]), np.asarray(out[1])


class GuardedModel(Model):
    """Wraps a loaded model: time limit, exception reporting, (h, c) shape of the return."""

    def __init__(self, model: Model, impl_id: str, limit: float = DEFAULT_TIME_LIMIT) -> None:
        self.model, self.impl_id, self.limit = model, impl_id, limit

    def _call(self, what: str, *args: Any) -> Any:
        __tracebackhide__ = True
        return guarded_call(self.impl_id, what, getattr(self.model, what), *args, limit=self.limit)

    def step(self, x: np.ndarray, state: State | None = None) -> State:
        return _pair(self.impl_id, "step", self._call("step", x, state))

    def sequence(self, xs: np.ndarray, state: State | None = None, *, lengths: np.ndarray | None = None,
                 reverse: bool = False) -> tuple[np.ndarray, State]:
        __tracebackhide__ = True
        # the keywords only when asked for: a plain call works with any model's signature
        options = {k: v for k, v in (("lengths", lengths), ("reverse", reverse)) if v is not None and v is not False}
        out = guarded_call(self.impl_id, "sequence", partial(self.model.sequence, **options), xs, state,
                           limit=self.limit)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise ImplementationError(f"{self.impl_id}: sequence returned {type(out).__name__}, "
                                      "but should return (hs, (h, c))")
        return np.asarray(out[0]), _pair(self.impl_id, "sequence", out[1])

    def grads(self, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray, gh: np.ndarray, gc: np.ndarray) -> NativeGrads:
        return self._call("grads", xs, h0, c0, gh, gc)
