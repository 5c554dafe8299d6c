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
from typing import Any, Dict, List, Optional, Tuple

from hydra_python_sweeper.commands.report.tally import Largest, LogHistogram, Lowest, TimeBins
from hydra_python_sweeper.journal.lines import FAILED

#: Jobs drawn on the timeline at most (the rest are sampled), and the longest always drawn.
TIMELINE = 2_000
LONGEST = 20
#: Completed jobs that returned a number kept for the plots against the parameters.
POINTS = 3_000

_HEADS = {"completed": b', "status": "completed"', "failed": b', "status": "failed"'}
_NUM = rb"-?[0-9][0-9.eE+-]*"
#: A line's start and end, matched where its own "started" field is (its last).
_TIMES = re.compile(rb'"started": (null|' + _NUM + rb'), "ended": (' + _NUM + rb")")
#: A return that is a number as JSON writes one (not ``NaN``: no point to draw), matched at
#: the line's first '"return": ', its own: an override's string escapes its quotes.
_RETURN = re.compile(rb'"return": (' + _NUM + rb'|-?Infinity)(?=, "dir": )')
_FIRST, _SECOND = operator.itemgetter(1), operator.itemgetter(2)  # a match's groups
_FIRST_ITEM, _LAST = operator.itemgetter(0), operator.itemgetter(-1)
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
        for status in ("completed", "failed"):
            # a job line's head: '{"job": N, "status": "completed"', N from its 9th byte
            at = list(map(bytes.find, lines, repeat(_HEADS[status]), repeat(8), repeat(48)))
            mask = list(map(operator.gt, at, repeat(8)))
            mine = list(compress(lines, mask))
            if mine and all(map(bytes.startswith, mine, repeat(b'{"job": '))):
                digits = map(bytes.__getitem__, mine, map(slice, repeat(8), compress(at, mask)))
                self._count(status, list(map(int, digits)), mine)

    def _count(self, status: str, numbers: List[int], lines: List[bytes]) -> None:
        self.counts[status] += len(lines)
        # the line's own start and end: its last "started" field (its check comes after)
        times: List[Any] = list(
            map(_TIMES.match, lines, map(bytes.rfind, lines, repeat(b'"started": ')))
        )
        if not all(times):  # lines of a version that wrote no times: counted, not drawn
            has = list(map(bool, times))
            numbers, lines = list(compress(numbers, has)), list(compress(lines, has))
            times = list(compress(times, has))
            if not times:
                return
        ended = list(map(float, map(_SECOND, times)))
        self.bins.add_many(ended, status)
        self.last = max(self.last or ended[0], max(ended))
        raw = list(map(_FIRST, times))
        timed = list(map(operator.ne, raw, repeat(b"null")))
        started = list(map(float, compress(raw, timed)))
        self.bins.add_many(started, "started")
        took = list(map(operator.sub, compress(ended, timed), started))
        self.durations[status].add_many(took)
        ranks = scrambled(numbers)
        # the samples, the longest, the best: candidates picked at C speed by each tally's
        # bar (it rises as items come in: a bar from before the block lets more through)
        below = map(operator.lt, ranks, repeat(self.drawn.bar))
        for rank, number, line in compress(zip(ranks, numbers, lines), below):
            self.drawn.add(rank, (number, line))
        longer = map(operator.gt, took, repeat(self.longest.bar))
        timed_jobs = compress(zip(numbers, lines), timed)
        for t, job in compress(zip(took, timed_jobs), longer):
            self.longest.add(t, job)
        if status == "failed":
            starts = iter(started)
            for number, end, has_start in zip(numbers, ended, timed):
                self._take_back(number)
                self.failed_at[number] = (end, next(starts) if has_start else None)
            return
        for number in set(numbers).intersection(self.failed_at):
            self._take_back(number)  # a failed job, completed when run again
        returns = list(map(_RETURN.match, lines, map(bytes.find, lines, repeat(b'"return": '))))
        numeric = list(compress(zip(ranks, numbers, lines, returns), returns))
        self.numeric += len(numeric)
        values = list(
            map(operator.mul, map(float, map(_FIRST, map(_LAST, numeric))), repeat(self.sign))
        )
        below = map(operator.lt, map(_FIRST_ITEM, numeric), repeat(self.points.bar))
        for rank, number, line, _ in compress(numeric, below):
            self.points.add(rank, (number, line))
        better = map(operator.gt, values, repeat(self.top.bar))
        for value, (_, number, line, _) in compress(zip(values, numeric), better):
            self.top.add(value, (number, line))

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


def scrambled(numbers: List[int]) -> List[int]:
    """Jobs' ranks for the samples: their numbers scrambled (Knuth's multiplicative hash,
    a map of C functions), so that the jobs kept are spread over the sweep, and the same
    ones at each report.

    >>> scrambled([0, 1, 2]), sorted(range(8), key=lambda n: scrambled([n]))[:4] != [0, 1, 2, 3]
    ([0, 2654435761, 1013904226], True)
    """
    return list(
        map(operator.and_, map(operator.mul, numbers, repeat(2654435761)), repeat(0xFFFFFFFF))
    )
