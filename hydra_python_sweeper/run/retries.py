"""Jobs launched again: those lost to the cluster, up to ``hydra.sweeper.retries`` times.

A job lost to the cluster (cancelled, its node failed, preempted and not requeued, timed
out) wrote no end in the journal; its batch's launcher says so with a
:class:`.settle.LaunchFailed`. It is launched again in a later batch, under its own number,
and the journal records each attempt (each writes its own started and end lines).
"""

import logging
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from hydra.core.utils import JobReturn

from hydra_python_sweeper.journal.resume_batches import consecutive_runs
from hydra_python_sweeper.run.settle import LaunchFailed

log = logging.getLogger(__name__)

Batch = Tuple[int, Sequence[Sequence[str]]]


#: How many times a job whose task failed before it started is launched again.
UNSTARTED = 3


class Retry(list):  # type: ignore[type-arg]
    """A batch of jobs launched again (their numbers kept)."""


class Retries:
    """Jobs lost to the cluster (cancelled, lost to a node, preempted, timed out: they wrote
    no end), launched again, up to ``limit`` times each, under their own numbers; a job
    that raised is launched again too if ``failed``.

    >>> from hydra.core.utils import JobReturn, JobStatus
    >>> from hydra_python_sweeper.run.settle import LaunchFailed
    >>> retries = Retries(limit=1)
    >>> lost = JobReturn(status=JobStatus.FAILED, _return_value=LaunchFailed("CANCELLED"))
    >>> retries.again(4, ["a=4"], lost), retries.again(4, ["a=4"], lost)
    (True, False)
    >>> list(retries.batches(10))
    [(4, [['a=4']])]
    """

    def __init__(self, limit: int, failed: bool = False) -> None:
        self.limit = limit
        self.failed = failed
        self.attempts: Dict[int, int] = {}  # job number -> attempts made again
        self.unstarted: Dict[int, int] = {}  # job number -> launches whose task failed first
        self.pending: List[Tuple[int, Sequence[str]]] = []

    def again(self, number: int, job: Sequence[str], result: JobReturn) -> bool:
        """Whether the failed job ``number`` is launched again (and queue it if so)."""
        lost = isinstance(result._return_value, LaunchFailed)
        if lost and result._return_value.unstarted:
            return self._unstarted(number, job, result._return_value)
        if not (lost or self.failed) or self.attempts.get(number, 0) >= self.limit:
            return False
        self.attempts[number] = self.attempts.get(number, 0) + 1
        self.pending.append((number, job))
        why = "lost to the cluster" if lost else "failed"
        log.warning(
            f"Job #{number} {why} ({result._return_value}): launched again, attempt "
            f"{self.attempts[number] + 1} of {self.limit + 1} (hydra.sweeper.retries)"
        )
        return True

    def _unstarted(self, number: int, job: Sequence[str], why: LaunchFailed) -> bool:
        """Its task failed before the job started: nothing of it ran, so it is launched
        again apart from ``retries``, up to :data:`UNSTARTED` times (a task that keeps
        failing so is a setting's fault, said by the job's failure then)."""
        count = self.unstarted[number] = self.unstarted.get(number, 0) + 1
        if count > UNSTARTED:
            return False
        self.pending.append((number, job))
        log.warning(f"Job #{number} never started ({why}): launched again, {count} of {UNSTARTED}")
        return True

    def batches(self, size: Optional[int]) -> Iterator[Batch]:
        """The jobs waiting to be launched again, in batches of consecutive numbers."""
        pending, self.pending = sorted(self.pending), []
        for start, jobs in consecutive_runs(pending, size):
            yield start, Retry(jobs)
