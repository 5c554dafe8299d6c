"""Adaptive sweeps: the results an entrypoint sees as they arrive.

An entrypoint with a parameter named ``results`` is called with a :class:`Results`: a live,
read-only sequence of the jobs of this sweep that have ended, in the order the sweeper learnt
of them (when their batch's ``launch()`` returned). A generator entrypoint is asked for its
next job only when a batch is drawn, so it sees every result the sweeper had by then::

    >>> results = Results()
    >>> def more_until_good(results):
    ...     n = 0
    ...     while not any(r.return_value > 0.9 for r in results):
    ...         yield {"+seed": n}
    ...         n += 1
    >>> jobs = more_until_good(results)
    >>> next(jobs), next(jobs)
    ({'+seed': 0}, {'+seed': 1})
    >>> results.learn(Result(0, {"+seed": 0}, "completed", 0.95))
    >>> list(jobs)
    []

On a resume, the generator runs again from the start, and :meth:`Results.replay` shows it,
at each draw, exactly what it had seen at that draw (the journal records it), then the view
goes live: a deterministic adaptive generator regenerates the same jobs.
"""

from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Sequence,
    overload,
)


class Result(NamedTuple):
    """A job that ended: its number, its overrides as a dict (key as written: its value, as
    filters see them), ``completed`` or ``failed``, and what the task returned (for a
    failure, the exception)."""

    number: int
    job: Dict[str, Any]
    status: str
    return_value: Any


class Results(Sequence[Result]):
    """The results of this sweep so far, as an adaptive entrypoint sees them."""

    def __init__(self) -> None:
        self._all: List[Result] = []
        self._schedule: List[int] = []  # on a resume: how many were seen at draw k
        self._visible: Optional[int] = None  # None: all of them
        self._followers: List[Callable[[Result], None]] = []

    def __len__(self) -> int:
        if self._visible is None:
            return len(self._all)
        return min(self._visible, len(self._all))

    @overload
    def __getitem__(self, index: int) -> Result: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Result]: ...

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return self._all[: len(self)][index]
        size = len(self)
        if not -size <= index < size:
            raise IndexError("Results index out of range")
        return self._all[index % size]

    def __iter__(self) -> Iterator[Result]:
        return iter(self._all[: len(self)])

    def __repr__(self) -> str:
        return f"<Results: {len(self)} jobs ended>"

    def follow(self, callback: Callable[[Result], None]) -> None:
        """Call ``callback`` with each result as soon as the sweeper learns it, even once
        the entrypoint has yielded its last job: with every result the sweeper has now (on
        a resume, all it recorded, whatever the draws see) at once, then with each one
        learnt.

        >>> results, seen = Results(), []
        >>> results.learn(Result(0, {"x": 1}, "completed", 0.5))
        >>> results.follow(lambda r: seen.append(r.number))
        >>> results.learn(Result(1, {"x": 2}, "failed", None))
        >>> seen
        [0, 1]
        """
        for result in list(self._all):
            callback(result)
        self._followers.append(callback)

    # The sweeper's side ------------------------------------------------------------------

    def learn(self, result: Result) -> None:
        """A job ended: its result is seen from the next draw on (its followers now)."""
        self._all.append(result)
        for callback in self._followers:
            callback(result)

    def replay(self, recorded: Iterable[Result], schedule: Sequence[int]) -> None:
        """Start from a journal's results, in the order they were learnt, and show, at draw
        ``k`` (see :meth:`drawing`), the first ``schedule[k]`` of them."""
        self._all = list(recorded)
        self._schedule = list(schedule)

    def drawing(self, k: int) -> int:
        """Batch ``k`` is about to be drawn: show what the generator saw then (live once the
        schedule is replayed); return how many results it sees."""
        self._visible = self._schedule[k] if k < len(self._schedule) else None
        return len(self)

    @property
    def replaying(self) -> bool:
        return self._visible is not None
