"""Jobs an earlier run launched that still run on this host, adopted by the resume.

An executor can outlive the run that started it (submitit's local one does): when a resume
begins, jobs of the earlier run may still be running. The resume neither runs them a second
time nor waits for them before launching anything: each group of them (the jobs of one
earlier batch) takes a place among the batches in flight, as an :class:`Adopted` item, until
its last process exits; the stream's batches leave them out (:meth:`Adoption.set_aside`).
A job whose process exited without writing its end is launched again, under its own
number, like any job a resume runs again::

    >>> adoption = Adoption({2: 101, 3: 102, 7: 103}, batch_size=4)
    >>> [item.numbers for item in adoption.items()]
    [[2, 3], [7]]
    >>> batches = adoption.set_aside(iter([(0, [["a=0"], ["a=1"], ["a=2"], ["a=3"]])]))
    >>> next(batches)
    (0, [['a=0'], ['a=1']])
    >>> adoption.ended([2, 3], {2: {"status": "completed"}})  # 3 exited with no end line
    [(3, ['a=3'])]
"""

import logging
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Set, Tuple

from hydra.core.utils import JobReturn, JobStatus

from ._liveness import _alive, alive_here, wait_for_local
from ._messages import plural
from ._pipeline import Stream
from ._reader import JournalState, ended
from ._resume_batches import consecutive_runs
from ._settings import Settings

log = logging.getLogger(__name__)

Batch = Tuple[int, Sequence[Sequence[str]]]


class Adopted:
    """A group of adopted jobs (of one earlier batch): a place among the batches in flight
    until each of their processes has exited."""

    def __init__(self, numbers: List[int], pids: Dict[int, int]) -> None:
        self.numbers = numbers
        self.pids = pids

    def __str__(self) -> str:
        first, last = self.numbers[0], self.numbers[-1]
        return f"#{first}" if first == last else f"#{first} to #{last}"

    def wait(self, path: Path, offset: int, poll: float) -> Dict[int, Dict[str, Any]]:
        """Wait until each job's process has exited; their end lines in the journal at
        ``path`` (written from byte ``offset`` on), for those that wrote one."""
        while any(_alive(self.pids[number]) for number in self.numbers):
            time.sleep(poll)
        found = ended(path, range(self.numbers[0], self.numbers[-1] + 1), offset)
        return {number: found[number] for number in self.numbers if number in found}


class Adoption:
    """The jobs adopted by a resume (job number -> its process on this host), grouped by the
    earlier run's batches of ``batch_size``; see the module's docstring."""

    def __init__(self, pids: Dict[int, int], batch_size: Optional[int], offset: int = 0) -> None:
        self.pids = pids
        self.batch_size = batch_size
        self.offset = offset  # where in the journal their ends are to be read from
        self.running: Set[int] = set(pids)  # adopted, not known to have exited
        self.held: Dict[int, Sequence[str]] = {}  # their jobs, as the stream regenerated them
        self.exited: Dict[int, bool] = {}  # exited: whether with an end line

    def items(self) -> List[Adopted]:
        """The groups, each a place among the batches in flight."""
        numbered = [(number, number) for number in sorted(self.pids)]
        groups = [group for _, group in consecutive_runs(numbered, self.batch_size)]
        return [Adopted(group, {n: self.pids[n] for n in group}) for group in groups]

    def set_aside(self, batches: Iterator[Batch]) -> Iterator[Batch]:
        """The stream's batches without the adopted jobs (a batch left empty is skipped):
        each is kept until its process exits; one that exited without an end line stays in."""
        for start, batch in batches:
            if not self.running.intersection(range(start, start + len(batch))):
                if not self.exited.keys() & range(start, start + len(batch)):
                    yield start, batch
                    continue
            kept: List[Tuple[int, Sequence[str]]] = []
            for number, job in enumerate(batch, start):
                if number in self.running:
                    self.held[number] = job
                elif self.exited.get(number) is not True:
                    kept.append((number, job))
            yield from consecutive_runs(kept, self.batch_size)

    def ended(
        self, numbers: Sequence[int], ends: Dict[int, Dict[str, Any]]
    ) -> List[Tuple[int, Sequence[str]]]:
        """Jobs ``numbers`` have exited, ``ends`` their end lines: those that exited without
        one and that the stream has already passed, to be launched again."""
        again = []
        for number in numbers:
            self.running.discard(number)
            self.exited[number] = number in ends
            job = self.held.pop(number, None)
            if number not in ends and job is not None:
                again.append((number, job))
        return again

    def announce(self) -> None:
        shown = ", ".join(f"#{job} (pid {pid})" for job, pid in sorted(self.pids.items())[:10])
        more = f" and {len(self.pids) - 10} more" if len(self.pids) > 10 else ""
        log.warning(
            f"{plural(len(self.pids), 'job')} of this sweep, launched by an earlier run, still "
            f"run on this host: {shown}{more}. They are adopted: each group takes a place "
            "among the batches in flight until it ends, and a job that ends without its end "
            f"line is launched again (to stop them instead: kill "
            f"{' '.join(str(pid) for pid in self.pids.values())})"
        )


def adopt(
    journal: JournalState, path: Path, settings: Settings, adaptive: bool
) -> Optional[Adoption]:
    """The jobs of ``journal`` still running on this host, adopted (``None``: none, or
    ``resume=force``); their ends are read from the journal at ``path`` as it is now on. An
    ``adaptive`` sweep learns results in order: it waits for them instead, before it launches
    anything."""
    poll = min(settings.poll_interval, 1.0)
    if settings.resume == "force":  # they run again
        return None
    if adaptive:
        wait_for_local(journal, path, poll)
        return None
    pids = dict(alive_here(journal))
    if not pids:
        return None
    adoption = Adoption(pids, settings.batch_size, path.stat().st_size)
    adoption.announce()
    return adoption


def adopting(stream: Stream, adoption: Optional[Adoption]) -> Stream:
    """``stream`` without the jobs ``adoption`` adopts, and with it."""
    if adoption is None:
        return stream
    return stream._replace(batches=adoption.set_aside(stream.batches), adoption=adoption)


def returned_by(end: Dict[str, Any]) -> JobReturn:
    """What an adopted job returned, from its end line (a failure's error as its text).

    >>> returned_by({"status": "failed", "return": "ValueError('x')"}).status.name
    'FAILED'
    """
    if end.get("status") == "completed":
        return JobReturn(status=JobStatus.COMPLETED, _return_value=end.get("return"))
    error = RuntimeError(f"{end.get('return')} (a job adopted from an earlier run)")
    return JobReturn(status=JobStatus.FAILED, _return_value=error)
