"""Small tallies that see a sweep's jobs one at a time and keep a bounded summary of them.

Each holds the same memory whatever the number of jobs it sees, so that a report over a
million jobs is built in flat memory: counts over time in bins that widen as the sweep
lengthens, durations in fixed logarithmic bins, a uniform sample, the extremes.
"""

import heapq
import math
import operator
from collections import Counter
from itertools import repeat
from typing import Any, Dict, Generic, List, Tuple, TypeVar

T = TypeVar("T")


class TimeBins:
    """Events counted by kind in time bins of equal width, the width doubled (and the bins
    merged by pairs) whenever more than ``most`` bins would be needed.

    >>> bins = TimeBins(origin=100.0, most=4)
    >>> for t in (100.0, 100.5, 101.2, 103.9): bins.add(t, "ended")
    >>> bins.width, bins.series("ended")
    (1.0, ([100.0, 101.0, 102.0, 103.0], [2, 1, 0, 1]))
    >>> bins.add(107.5, "ended"); bins.width, bins.series("ended")
    (2.0, ([100.0, 102.0, 104.0, 106.0], [3, 1, 0, 1]))
    """

    def __init__(self, origin: float, most: int = 600, width: float = 1.0) -> None:
        self.origin = origin
        self.most = most
        self.width = width
        self.counts: Dict[Tuple[str, int], int] = {}
        self.last = 0

    def _index(self, time: float) -> int:
        return max(0, int((time - self.origin) // self.width))

    def add(self, time: float, kind: str) -> None:
        index = self._index(time)
        while index >= self.most:
            self._widen()
            index //= 2
        self.last = max(self.last, index)
        key = (kind, index)
        self.counts[key] = self.counts.get(key, 0) + 1

    def add_many(self, times: List[float], kind: str) -> None:
        """:meth:`add` for each of ``times``, faster.

        >>> bins = TimeBins(origin=0.0, most=4); bins.add_many([0.5, 0.7, 9.0], "x")
        >>> bins.width, bins.series("x")
        (4.0, ([0.0, 4.0, 8.0], [2, 0, 1]))
        """
        if not times:
            return
        top = int((max(times) - self.origin) // self.width)
        while top >= self.most:
            self._widen()
            top //= 2
        self.last = max(self.last, top)
        counts = self.counts
        offsets = map(operator.sub, times, repeat(self.origin))
        for index, count in Counter(
            map(math.floor, map(operator.truediv, offsets, repeat(self.width)))
        ).items():
            key = (kind, max(0, index))
            counts[key] = counts.get(key, 0) + count

    def remove(self, time: float, kind: str) -> None:
        """Take back one event :meth:`add` counted."""
        key = (kind, self._index(time))
        self.counts[key] = self.counts.get(key, 0) - 1

    def merge(self, other: "TimeBins") -> None:
        """Add ``other``'s counts (of the same origin), the wider bins of the two kept.

        >>> a, b = TimeBins(0.0, most=4), TimeBins(0.0, most=4)
        >>> a.add(1.5, "x"); b.add(9.0, "x"); a.merge(b); a.width, a.series("x")
        (4.0, ([0.0, 4.0, 8.0], [1, 0, 1]))
        """
        while self.width < other.width:
            self._widen()
        factor = round(self.width / other.width)
        for (kind, index), count in other.counts.items():
            key = (kind, index // factor)
            self.counts[key] = self.counts.get(key, 0) + count
        self.last = max(self.last, other.last // factor)

    def _widen(self) -> None:
        self.width *= 2
        self.last //= 2
        merged: Dict[Tuple[str, int], int] = {}
        for (kind, index), count in self.counts.items():
            merged[(kind, index // 2)] = merged.get((kind, index // 2), 0) + count
        self.counts = merged

    def series(self, kind: str) -> Tuple[List[float], List[int]]:
        """The bins' start times and this kind's count in each, up to the last bin used."""
        starts = [self.origin + i * self.width for i in range(self.last + 1)]
        return starts, [self.counts.get((kind, i), 0) for i in range(self.last + 1)]


class LogHistogram:
    """Positive values counted in bins of equal width on a log scale, ``per_decade`` a
    decade; zeros and negatives in the first bin.

    >>> h = LogHistogram(per_decade=1)
    >>> for x in (0.5, 2.0, 3.0, 30.0): h.add(x)
    >>> h.bins()
    [(0.1, 1.0, 1), (1.0, 10.0, 2), (10.0, 100.0, 1)]
    """

    def __init__(self, per_decade: int = 10, smallest: float = 1e-3) -> None:
        self.per_decade = per_decade
        self.smallest = smallest
        self.counts: Dict[int, int] = {}

    def _index(self, value: float) -> int:
        return math.floor(math.log10(max(value, self.smallest)) * self.per_decade + 1e-9)

    def add(self, value: float) -> None:
        index = self._index(value)
        self.counts[index] = self.counts.get(index, 0) + 1

    def add_many(self, values: List[float]) -> None:
        """:meth:`add` for each of ``values``, faster."""
        logs = map(math.log10, map(max, values, repeat(self.smallest)))
        scaled = map(operator.add, map(operator.mul, logs, repeat(self.per_decade)), repeat(1e-9))
        found = Counter(map(math.floor, scaled))
        for index, count in found.items():
            self.counts[index] = self.counts.get(index, 0) + count

    def remove(self, value: float) -> None:
        """Take back one value :meth:`add` counted."""
        index = self._index(value)
        self.counts[index] = self.counts.get(index, 0) - 1

    def merge(self, other: "LogHistogram") -> None:
        for index, count in other.counts.items():
            self.counts[index] = self.counts.get(index, 0) + count

    def bins(self) -> List[Tuple[float, float, int]]:
        """(low, high, count) of each bin from the first used to the last, empty ones too."""
        if not self.counts:
            return []
        low, high = min(self.counts), max(self.counts)
        edges = [round(10 ** (i / self.per_decade), 12) for i in range(low, high + 2)]
        return [
            (edges[k], edges[k + 1], self.counts.get(low + k, 0)) for k in range(high - low + 1)
        ]


class Lowest(Generic[T]):
    """The ``size`` items of lowest rank seen, by rank; with ranks from a hash of each
    item, a sample spread evenly over all items seen (bottom-k sampling), which needs no
    random numbers and gives the same sample from the same items in any order.

    >>> low = Lowest(2)
    >>> for rank, name in [(5, "a"), (1, "b"), (3, "c")]: low.add(rank, name)
    >>> low.items(), low.dropped
    (['b', 'c'], 1)
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._heap: List[Tuple[int, Any]] = []  # ranks negated: the highest kept on top
        self.dropped = 0
        #: the rank an item must be below to be kept (a caller may test it first)
        self.bar: float = math.inf

    def add(self, rank: int, item: T) -> None:
        if rank >= self.bar:
            self.dropped += 1
            return
        if len(self._heap) < self.size:
            heapq.heappush(self._heap, (-rank, item))
        else:
            heapq.heapreplace(self._heap, (-rank, item))
            self.dropped += 1
        if len(self._heap) == self.size:
            self.bar = -self._heap[0][0]

    def items(self) -> List[T]:
        return [item for _, item in sorted(self._heap, key=lambda entry: -entry[0])]

    def merge(self, other: "Lowest[T]") -> None:
        for negated, item in other._heap:
            self.add(-negated, item)
        self.dropped += other.dropped


class Largest(Generic[T]):
    """The ``size`` items of largest key seen, largest first (ties: the first seen).

    >>> top = Largest(2); [top.add(k, k * 10) for k in (3, 1, 4, 1, 5)] and None
    >>> top.items()
    [50, 40]
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._heap: List[Tuple[float, int, Any]] = []
        self._count = 0
        #: the key an item must pass to be kept (a caller may test it first)
        self.bar: float = -math.inf

    def add(self, key: float, item: T) -> None:
        if key <= self.bar:
            return
        self._count -= 1  # a later item ranks below an earlier one of the same key
        entry = (key, self._count, item)
        if len(self._heap) < self.size:
            heapq.heappush(self._heap, entry)
        else:
            heapq.heapreplace(self._heap, entry)
        if len(self._heap) == self.size:
            self.bar = self._heap[0][0]

    def items(self) -> List[T]:
        return [item for _, _, item in sorted(self._heap, reverse=True)]

    def merge(self, other: "Largest[T]") -> None:
        for key, _, item in sorted(other._heap, reverse=True):
            self.add(key, item)
