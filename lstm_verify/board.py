"""What this run has found so far: the workers of one run share, through marker files in a run
folder, which implementations have failed which laws, so that a training law need not spend
its restarts on an implementation whose verdict another law has already decided.

A training law restarts an unsolved run up to 8 times (a correct LSTM fails one run of delayed
XOR on about a third of seeds), and a defective implementation never solves it: those restarts
were most of a defective cell's verdict time. Asked every 10 training steps and before each
restart (:func:`failed_laws`), the board lets the law stop and skip with the reason: its own
outcome is then undecided, which is what the report says, while a correct implementation,
which fails no other law, always trains in full. Outside a run of the plugin (a law called
directly) there is no board and nothing stops.

The plugin's controller opens the board in the cache folder (:func:`open_board`) and names it to
the xdist workers, which inherit ``LSTM_VERIFY_BOARD``; it is removed when the run ends.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable
from urllib.parse import quote

ENV = "LSTM_VERIFY_BOARD"
_SEP = "@@"  # never in a quoted id: quote() escapes "@"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process
        return True
    return True


def open_board(cache: Path) -> Callable[[], None]:
    """Make this run's board in ``cache`` and name it to the workers started after this; returns
    the cleanup. Boards left by runs whose process has gone (interrupted) are removed first."""
    for stale in Path(cache).glob("board-*-*"):
        pid = stale.name.split("-")[1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    folder = tempfile.mkdtemp(prefix=f"board-{os.getpid()}-", dir=cache)
    os.environ[ENV] = folder

    def close() -> None:
        if os.environ.get(ENV) == folder:
            del os.environ[ENV]
        shutil.rmtree(folder, ignore_errors=True)
    return close


def post(impl_id: str, law: str) -> None:
    """Record that ``law`` failed for ``impl_id`` (nothing outside a run)."""
    folder = os.environ.get(ENV)
    if folder and os.path.isdir(folder):
        Path(folder, f"{quote(impl_id, safe='')}{_SEP}{law}").touch()


def failed_laws(impl_id: str, but: str) -> list[str]:
    """The laws other than ``but`` that ``impl_id`` has failed so far in this run."""
    folder = os.environ.get(ENV)
    if not folder or not os.path.isdir(folder):
        return []
    mine = f"{quote(impl_id, safe='')}{_SEP}"
    return sorted(n[len(mine):] for n in os.listdir(folder) if n.startswith(mine) and n[len(mine):] != but)
