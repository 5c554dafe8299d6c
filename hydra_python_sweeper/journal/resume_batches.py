"""The batches a resume runs: the jobs its journal records as completed skipped, the others
under their own numbers, each within its original batch (:func:`resume_batches`)."""

import itertools
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple, TypeVar

from hydra_python_sweeper.errors import ResumeError
from hydra_python_sweeper.journal.lines import COMPLETED
from hydra_python_sweeper.journal.reader import JournalState

J = TypeVar("J")


def resume_batches(
    batches: Iterable[Tuple[int, Sequence[Sequence[str]]]], state: JournalState, size: Optional[int]
) -> Iterator[Tuple[int, List[Sequence[str]]]]:
    """The batches left to run: the journal's completed jobs skipped, the others (failed,
    never finished) run under their own numbers, in batches of consecutive numbers that
    stay within the original batches.

    Every job the journal records is checked against the regenerated stream before
    anything is yielded, so a changed sweep fails before any launch.

    >>> from hydra_python_sweeper.space.stages import job_digest
    >>> state = JournalState()
    >>> for n in (0, 1, 3): state.record(n, job_digest([f"a={n}"]), COMPLETED)
    >>> batches = [(0, [["a=0"], ["a=1"]]), (2, [["a=2"], ["a=3"]]), (4, [["a=4"], ["a=5"]])]
    >>> list(resume_batches(batches, state, 2))
    [(2, [['a=2']]), (4, [['a=4'], ['a=5']])]
    """
    pending: List[Tuple[int, Sequence[str]]] = []
    end = 0
    batches = iter(batches)
    for start, batch in batches:
        if start >= state.size:
            yield from consecutive_runs(pending, size)
            yield start, list(batch)
            yield from ((s, list(b)) for s, b in batches)
            return
        statuses = state.check(start, batch)
        completed = statuses.count(COMPLETED)
        state.skipped += completed
        if completed < len(batch):
            numbered = zip(itertools.count(start), batch)
            pending.extend(itertools.compress(numbered, map(COMPLETED.__ne__, statuses)))
        end = start + len(batch)
    if any(state.status[end:]):
        raise ResumeError(
            f"the journal records jobs up to #{state.size - 1}, but the sweep now has only "
            f"{end} jobs: the entrypoints, the command line or the filters changed since the "
            "sweep ran. Nothing was launched."
        )
    yield from consecutive_runs(pending, size)


def consecutive_runs(
    jobs: Iterable[Tuple[int, J]], size: Optional[int]
) -> Iterator[Tuple[int, List[J]]]:
    """Numbered jobs as batches of consecutive numbers within the batches of ``size``
    (jobs ``k * size`` to ``(k + 1) * size - 1``), so that each stays in its own batch.

    >>> list(consecutive_runs([(2, "c"), (3, "d"), (4, "e"), (7, "h")], 4))
    [(2, ['c', 'd']), (4, ['e']), (7, ['h'])]
    """
    start, batch = 0, []  # type: Tuple[int, List[J]]
    for number, job in jobs:
        if batch and (number != start + len(batch) or (size and number % size == 0)):
            yield start, batch
            batch = []
        if not batch:
            start = number
        batch.append(job)
    if batch:
        yield start, batch
