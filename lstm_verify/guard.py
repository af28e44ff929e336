"""Keeps the kit going whatever an implementation does: every call into it is timed out,
exceptions and malformed returns become one clear :class:`ImplementationError`, a runaway
allocation meets a memory limit, and a process that dies leaves behind what it was doing
(the last call into the implementation, the faulthandler's report) for the runner to read.
Where the laws run in a worker process, the allocator keeps freed memory for reuse."""

from __future__ import annotations

import ctypes
import faulthandler
import gc
import os
import resource
import signal
import sys
import threading
import time
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator, NoReturn

import numpy as np

from lstm_verify.adapters.base import Model, NativeGrads, Pullback, State

DEFAULT_TIME_LIMIT = 60.0
_HUNG: set[str] = set()
_WATCH: dict[str, Any] = {"fd": None, "memory_gib": 0.0}
"""This process's last-call file (:func:`watch_process`) and memory limit (:func:`limit_memory`)."""
_OUT_OF_MEMORY = "can't allocate memory"
"""How torch's CPU allocator says what NumPy says with a MemoryError."""
_CALL_BYTES = 400


class ImplementationError(AssertionError):
    """The implementation under test raised, hung, or returned something that is not (h, c)."""


class _Timeout(BaseException):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout


def keep_alarm_handler() -> None:
    """Install :func:`time_limit`'s SIGALRM handler for the rest of this process, so that each
    guarded call only arms and disarms the timer. Installing and restoring a handler around every
    call cost 30-50 µs a call next to a jitted JAX step of 20 µs (measured); a verdict makes tens
    of thousands of calls. For processes that only run laws (pytest-xdist workers), not a caller's."""
    signal.signal(signal.SIGALRM, _alarm)


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`_Timeout` in the main thread after ``seconds`` (no limit in other threads).
    The handler is installed for the call and the previous one restored, unless
    :func:`keep_alarm_handler` installed it for good."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return
    kept = signal.getsignal(signal.SIGALRM) is _alarm
    previous = None if kept else signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        if not kept:
            signal.signal(signal.SIGALRM, previous)


def guarded_call(impl_id: str, what: str, fn: Callable, *args: Any, limit: float = DEFAULT_TIME_LIMIT) -> Any:
    """``fn(*args)``, with exceptions and hangs reported as :class:`ImplementationError`.

    An implementation that hung once is not called again (each later call fails at once),
    so a hang costs one time limit, not one per hypothesis example."""
    __tracebackhide__ = True
    if impl_id in _HUNG:
        message = f"{impl_id} hung earlier (no return within {limit:g} s); not called again"
    else:
        if _WATCH["fd"] is not None:
            _note_call(impl_id, what, args)
        try:
            with time_limit(limit):
                return fn(*args)
        except _Timeout:
            _HUNG.add(impl_id)
            message = f"{impl_id}: {what} did not return within {limit:g} s"
        except ImplementationError:
            raise
        except Exception as exc:
            if isinstance(exc, MemoryError) or _OUT_OF_MEMORY in str(exc):
                verdict = (f"exceeded the memory limit ({_WATCH['memory_gib']:g} GiB)" if _WATCH["memory_gib"]
                           else "ran out of memory")
                raise ImplementationError(f"{impl_id}: {verdict} in {what}: {type(exc).__name__}: {exc}") from exc
            raise ImplementationError(f"{impl_id}: {what} raised {type(exc).__name__}: {exc}") from exc
    # one raise for both, so hypothesis sees the same failure when it replays a hang
    raise ImplementationError(message)


def _describe(arg: Any) -> str:
    if isinstance(arg, np.ndarray):
        return f"{arg.dtype}{list(arg.shape)}"
    if isinstance(arg, (tuple, list)):
        return "(" + ", ".join(_describe(a) for a in arg) + ")"
    return "None" if arg is None else type(arg).__name__


def _note_call(impl_id: str, what: str, args: tuple) -> None:
    """Overwrite this process's last-call file with the call about to be made (one syscall)."""
    text = f"{what} of {impl_id} with {', '.join(_describe(a) for a in args)}".encode()[:_CALL_BYTES]
    os.pwrite(_WATCH["fd"], text.ljust(_CALL_BYTES), 0)


def limit_memory(gib: float) -> Callable[[], None]:
    """Limit this process's writable memory (``RLIMIT_DATA``) to ``gib`` GiB (0: no limit), so
    a runaway allocation raises MemoryError; returns the function that restores the old limit.

    ``RLIMIT_DATA`` rather than ``RLIMIT_AS``: JAX, XLA and CUDA reserve address space they
    never touch (a JAX process has 1.5 GiB of it and 0.3 GiB of data), which ``RLIMIT_AS``
    counts and ``RLIMIT_DATA`` does not."""
    previous = resource.getrlimit(resource.RLIMIT_DATA)
    if gib <= 0:
        return lambda: None
    hard = previous[1]
    wanted = int(gib * 2**30)
    resource.setrlimit(resource.RLIMIT_DATA, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard))
    _WATCH["memory_gib"] = gib

    def restore() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, previous)
        _WATCH["memory_gib"] = 0.0
    return restore


ALLOCATOR = ((-1, 2**30), (-2, 2**28), (-3, 2**25))
"""glibc ``mallopt`` settings (``M_TRIM_THRESHOLD``: 1 GiB of free memory is kept before any goes
back to the kernel; ``M_TOP_PAD``: the heap grows 256 MiB at a time; ``M_MMAP_THRESHOLD``: blocks
up to 32 MiB come from the heap) for :func:`keep_freed_memory`."""


def keep_freed_memory() -> None:
    """Have glibc's allocator keep freed memory for reuse in this process instead of returning it
    to the kernel at once (:data:`ALLOCATOR`); nothing where the C library has no ``mallopt``.

    The laws allocate and free large temporaries at every example (weights at H = 1024, their
    gradients and error bounds); returned at once, each is faulted back in, zeroed, by the next.
    Measured on the 2-core VM: the error bounds of the size ladders in four dtypes in 3.7 s
    instead of 6.6-8 s, most of the difference kernel time (README, "Check your own implementation")."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    for param, value in ALLOCATOR:
        mallopt(param, value)


def end_without_teardown(code: int = 0) -> NoReturn:
    """Flush the standard streams and end this process with ``code`` at once (``os._exit``), without
    the interpreter's teardown. Tearing down torch and JAX (their modules and native state) took
    0.3-0.6 s of every process that had loaded them, and a verdict waits for three such exits: its
    two workers' and its own (2-core VM). Only for processes the kit owns, whose results are written
    and closed by then: ``lstm-verify`` once it returns, and the workers it starts, as their exit
    handler (an xdist worker that exits normally exits 0)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def watch_process(directory: str | Path, name: str) -> Callable[[], None]:
    """Leave a trace in ``directory`` if this process dies: ``name.call`` holds the last call
    into an implementation, ``name.fault`` the faulthandler's report of a fatal signal.
    Returns the function that stops watching."""
    directory = Path(directory)
    _WATCH["fd"] = os.open(directory / f"{name}.call", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    fault = open(directory / f"{name}.fault", "w")
    faulthandler.enable(file=fault, all_threads=False)

    def stop() -> None:
        faulthandler.disable()
        fault.close()
        os.close(_WATCH["fd"])
        _WATCH["fd"] = None
    return stop


def read_trace(directory: str | Path, name: str) -> tuple[str, str]:
    """What the dead process ``name`` left in ``directory``: (its last call into an
    implementation, the faulthandler's report), each '' when missing."""
    texts = []
    for suffix in ("call", "fault"):
        try:
            texts.append((Path(directory) / f"{name}.{suffix}").read_text(errors="replace").strip())
        except OSError:
            texts.append("")
    return texts[0], texts[1]


_MAPPINGS = {"checked": 0.0}


def release_compiled_programs(share: float = 0.5, every: float = 5.0) -> bool:
    """Drop JAX's compiled programs (``jax.clear_caches``) once this process holds more than
    ``share`` of the memory mappings Linux allows a process (``vm.max_map_count``), looking at
    most every ``every`` seconds; returns whether it dropped them.

    Every XLA:CPU executable a process keeps holds memory mappings: one flax-nnx column of the
    main job adds about 9,000, and a main-job worker came to the default limit of 65,530 within
    five minutes. Past it XLA cannot map the code it generates ("LLVM compilation error: Cannot
    allocate memory") and segfaults, in whichever check comes next: two deaths in each of five
    main jobs, inside JAX writing or reading its persistent cache, none again alone; a process
    holding 65,400 mappings dies at its next jit. Dropping the programs (12,700 mappings down
    to 700 after two JAX columns) costs a reload from the persistent cache, or a compile, the
    next time a law needs one. Counting reads ``/proc/self/maps`` (about 1 ms per 1,000
    mappings); where there is none, nothing happens."""
    if "jax" not in sys.modules or time.monotonic() - _MAPPINGS["checked"] < every:
        return False
    _MAPPINGS["checked"] = time.monotonic()
    try:
        limit = int(Path("/proc/sys/vm/max_map_count").read_text())
        with open("/proc/self/maps", "rb") as fh:
            count = fh.read().count(b"\n")
    except (OSError, ValueError):
        return False
    if count < share * limit:
        return False
    sys.modules["jax"].clear_caches()
    gc.collect()
    return True


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

    def vjp(self, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray) -> tuple[np.ndarray, State, Pullback] | None:
        out = self._call("vjp", xs, h0, c0)
        if out is None:
            return None
        hs, state, pullback = out
        return (np.asarray(hs), _pair(self.impl_id, "vjp", state),
                partial(guarded_call, self.impl_id, "gradients of a run", pullback, limit=self.limit))
