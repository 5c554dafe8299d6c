"""What the report counts of a sweep's end lines, block by block, riding the status's pass.

:class:`EndTally` is given each block of the journal as the status reads it (in one process
a part of the journal, :mod:`..journal.split_read`), keeps only tallies of a fixed size
(:mod:`.tally`), and is merged part by part in order. Each step over a block's lines is a
map of a C function over all of them, so a million lines cost about a second of CPU.

A job's end line is its latest attempt unless the job ran again: only a failed job does (a
retry, a resume's ``retry_failed``). The failed end lines are kept by job (a failed job's
number and where it was counted: a few bytes a failed job, as the status keeps their lines),
and :meth:`EndTally.settle` takes back those that the job's last line overrode::

    >>> from hydra_python_sweeper.journal.lines import encode, job_line
    >>> tally = EndTally(origin=0.0)
    >>> tally(b"".join(encode({**job_line(n, [f"+x={n}"], ok, n, str(n)), "started": 1.0,
    ...                        "ended": 3.0}) for n, ok in [(0, False), (1, True), (0, True)]))
    >>> tally.settle(bytes([1, 1]))  # both completed in the end
    >>> tally.counts, [n for n, _ in tally.top.items()]
    ({'completed': 2, 'failed': 0}, [0, 1])
"""

import operator
import re
from itertools import compress, repeat
from typing import Dict, List, Optional, Tuple

from hydra_python_sweeper.journal.lines import FAILED
from hydra_python_sweeper.report.tally import Largest, LogHistogram, Lowest, TimeBins

#: Jobs drawn on the timeline at most (the rest are sampled), and the longest always drawn.
TIMELINE = 2_000
LONGEST = 20
#: Completed jobs that returned a number kept for the plots against the parameters.
POINTS = 3_000

_FIRST, _SECOND, _THIRD = (operator.itemgetter(i) for i in range(3))
_DIGITS = operator.itemgetter(slice(8, None))  # after '{"job": '
_ENDED = operator.itemgetter(slice(9, None))  # after '"ended": '
_INITIAL = operator.itemgetter(slice(0, 1))
#: A return that is a number as JSON writes one (not ``NaN``: no point to draw).
_NUMERIC = re.compile(rb"-?[0-9][0-9.eE+-]*|-?Infinity")
Job = Tuple[int, bytes]  # a job's number and its end line


class EndTally:
    """The end lines' tallies: counts over time and by duration, and the jobs kept whole
    (a sample for the timeline, the longest, a sample of numeric returns, the best)."""

    def __init__(self, origin: float, best: int = 20, highest: bool = False) -> None:
        self.bins = TimeBins(origin)
        self.durations = {"completed": LogHistogram(), "failed": LogHistogram()}
        self.counts = {"completed": 0, "failed": 0}
        self.numeric = 0  # completed end lines that returned a number
        self.last: Optional[float] = None
        self.adaptive = False
        self.drawn: Lowest[Job] = Lowest(TIMELINE)
        self.longest: Largest[Job] = Largest(LONGEST)
        self.points: Lowest[Job] = Lowest(POINTS)
        self.top: Largest[Job] = Largest(best)
        self.sign = 1.0 if highest else -1.0
        #: a failed end line's job: its end's and its start's bins (``None``: no start)
        self.failed_at: Dict[int, Tuple[float, Optional[float]]] = {}

    def __call__(self, block: bytes) -> None:
        self.adaptive = self.adaptive or b'{"drawn": ' in block
        lines = block.split(b"\n")
        # a job line's head (``{"job": N``) and the first letter of its status
        parts = list(map(bytes.partition, lines, repeat(b', "status": "')))
        letters = list(map(_INITIAL, map(_THIRD, parts)))
        for letter, status in ((b"c", "completed"), (b"f", "failed")):
            mask = list(map(operator.eq, letters, repeat(letter)))
            heads = list(compress(map(_FIRST, parts), mask))
            if heads and all(map(bytes.startswith, heads, repeat(b'{"job": '))):
                self._count(
                    status, list(map(int, map(_DIGITS, heads))), list(compress(lines, mask))
                )

    def _count(self, status: str, numbers: List[int], lines: List[bytes]) -> None:
        self.counts[status] += len(lines)
        # the line's own start and end: its last "started" field, its check after them
        tails = map(_THIRD, map(bytes.rpartition, lines, repeat(b'"started": ')))
        fields = list(map(bytes.split, tails, repeat(b", "), repeat(2)))
        ended = list(map(float, map(_ENDED, map(_SECOND, fields))))
        self.bins.add_many(ended, status)
        self.last = max(self.last or ended[0], max(ended))
        raw = list(map(_FIRST, fields))
        timed = list(map(operator.ne, raw, repeat(b"null")))
        started = list(map(float, compress(raw, timed)))
        self.bins.add_many(started, "started")
        took = list(map(operator.sub, compress(ended, timed), started))
        self.durations[status].add_many(took)
        ranks = list(map(priority, numbers))
        jobs = list(zip(numbers, lines))
        below = map(operator.lt, ranks, repeat(self.drawn.bar))
        for rank, job in compress(zip(ranks, jobs), below):
            self.drawn.add(rank, job)
        longer = map(operator.gt, took, repeat(self.longest.bar))
        for t, job in compress(zip(took, compress(jobs, timed)), longer):
            self.longest.add(t, job)
        if status == "failed":
            starts = iter(started)
            for number, end, has_start in zip(numbers, ended, timed):
                self._take_back(number)
                self.failed_at[number] = (end, next(starts) if has_start else None)
            return
        for number in set(numbers).intersection(self.failed_at):
            self._take_back(number)  # a failed job, completed when run again
        returns = map(_THIRD, map(bytes.partition, lines, repeat(b'"return": ')))
        tokens = list(map(_FIRST, map(bytes.partition, returns, repeat(b', "dir": '))))
        numeric = list(compress(zip(tokens, ranks, jobs), map(_NUMERIC.fullmatch, tokens)))
        self.numeric += len(numeric)
        for token, rank, job in numeric:
            value = float(token)
            if rank < self.points.bar:
                self.points.add(rank, job)
            if self.sign * value > self.top.bar:
                self.top.add(self.sign * value, job)

    def _take_back(self, number: int) -> None:
        """Take back a failed end line of job ``number`` that a later line overrode."""
        counted = self.failed_at.pop(number, None)
        if counted is None:
            return
        end, start = counted
        self.counts["failed"] -= 1
        self.bins.remove(end, "failed")
        if start is not None:
            self.bins.remove(start, "started")
            self.durations["failed"].remove(end - start)

    def merge(self, later: "EndTally") -> None:
        """Add what ``later`` counted of the journal's lines after those this one counted."""
        for number in set(later.failed_at).intersection(self.failed_at):
            self._take_back(number)
        for status in self.counts:
            self.counts[status] += later.counts[status]
            self.durations[status].merge(later.durations[status])
        self.bins.merge(later.bins)
        self.numeric += later.numeric
        self.last = max(filter(None, [self.last, later.last]), default=None)
        self.adaptive = self.adaptive or later.adaptive
        for mine, theirs in ((self.drawn, later.drawn), (self.points, later.points)):
            mine.merge(theirs)
        for most, others in ((self.longest, later.longest), (self.top, later.top)):
            most.merge(others)
        self.failed_at.update(later.failed_at)

    def settle(self, statuses: bytes) -> None:
        """Take back the failed end lines of jobs whose last line is not a failure (they
        completed when run again, or run again now), ``statuses`` the jobs' last states."""
        for number in [n for n in self.failed_at if n >= len(statuses) or statuses[n] != FAILED]:
            self._take_back(number)


def priority(number: int) -> int:
    """A job's rank for the samples: its number scrambled (Knuth's multiplicative hash),
    so that the jobs kept are spread over the sweep, and the same ones at each report.

    >>> sorted(range(8), key=priority)[:4] != [0, 1, 2, 3]
    True
    """
    return (number * 2654435761) & 0xFFFFFFFF
