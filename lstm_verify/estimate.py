"""How long a run will take, an estimate: each check's seconds from the cost table
(:mod:`lstm_verify.shard`, ``costs.json``: a cold main job, ``-n 2``, on the project's 2-core
machine), shared among the workers. Checks served from the store are not in the plan: they cost
nothing; nor does a check of an implementation the table knows under a property it has no time
for (it skipped when the table was measured). Once checks finish, the seconds they took over
their table seconds is this machine's speed factor, and what remains is scaled by it."""

from __future__ import annotations

from lstm_verify.shard import cost


def makespan(seconds: list[float], workers: int) -> float:
    """The wall time of ``seconds`` of checks on ``workers`` workers: their sum shared evenly, but
    never less than the longest check."""
    return max(sum(seconds) / max(1, workers), max(seconds, default=0.0))


def duration(seconds: float) -> str:
    """'40 s', '7 min', '1 h 5 min': rounded as an estimate is (a moment is '1 s', nothing '0 s')."""
    if seconds < 59.5:
        return f"{max(1, round(seconds)) if seconds > 0 else 0} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


class Estimate:
    """The planned checks' table seconds, and the measured seconds of those finished."""

    def __init__(self, checks: list[tuple[str, str]], costs: dict[str, dict[str, float]], workers: int) -> None:
        self.costs, self.workers = costs, workers
        self.expected: dict[tuple[str, str], float] = {}
        """(property, implementation) -> table seconds, for every check to run."""
        self.finished: set[tuple[str, str]] = set()
        self.timed: dict[tuple[str, str], float] = {}
        """(property, implementation) -> seconds taken, for the finished checks that ran their law."""
        self.add(checks)

    def add(self, checks: list[tuple[str, str]]) -> float:
        """Plan ``checks`` too (a later session's, run after the planned ones); their wall time by the table."""
        known = {impl for times in self.costs.values() for impl in times}
        added = {(prop, impl): 0.0 if prop in self.costs and impl in known and impl not in self.costs[prop] else
                 cost(self.costs, prop, impl) for prop, impl in checks}
        self.expected.update(added)
        return makespan(list(added.values()), self.workers)

    def total(self) -> float:
        """The whole run's wall time by the table."""
        return makespan(list(self.expected.values()), self.workers)

    def finish(self, check: tuple[str, str], seconds: float, ran: bool = True) -> None:
        """``check`` finished after ``seconds``; ``ran``: it ran its law (a skip says nothing of speed)."""
        if check in self.expected:
            self.finished.add(check)
            if ran:
                self.timed[check] = seconds

    def speed(self) -> float:
        """Seconds taken over table seconds of the finished checks that ran (1 before any): above
        1, this machine is slower than the table's."""
        table = sum(self.expected[check] for check in self.timed)
        return sum(self.timed.values()) / table if table > 0 else 1.0

    def remaining(self) -> float:
        """The wall time of the checks not yet finished, by the table scaled by :meth:`speed`."""
        left = [s for check, s in self.expected.items() if check not in self.finished]
        return makespan(left, self.workers) * self.speed()
