"""Jobs an earlier run launched that still run, adopted by the resume.

An executor or a job array outlives the run that started it (submitit's local executor
does; a SLURM array does): when a resume begins, jobs of the earlier run may still be
running. The resume neither runs them a second time nor waits for them before launching
anything: each group of them (the jobs of one earlier batch) takes a place among the batches
in flight, as an :class:`Adopted` item, until each of its jobs has written its end line or no
longer runs (its process gone from this host, its task from SLURM's queue); the stream's
batches leave them out (:meth:`Adoption.set_aside`). A
job that ended without writing its end (killed, cancelled, its node lost) is launched again,
under its own number, like any job a resume runs again. On SLURM, the earlier run's tasks
still queued are cancelled first: having not started, they would stand down once started
(:mod:`journal.fence`), and this run launches their jobs itself::

    >>> adoption = Adoption({2: 101, 3: 102, 7: 103}, batch_size=4, alive=lambda pids: False)
    >>> [item.numbers for item in adoption.items()]
    [[2, 3], [7]]
    >>> batches = adoption.set_aside(iter([(0, [["a=0"], ["a=1"], ["a=2"], ["a=3"]])]))
    >>> next(batches)
    (0, [['a=0'], ['a=1']])
    >>> adoption.ended([2, 3], {2: {"status": "completed"}})  # 3 exited with no end line
    [(3, ['a=3'])]
"""

import json
import logging
import subprocess
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple

from hydra.core.utils import JobReturn, JobStatus

from hydra_python_sweeper.cluster.liveness import alive_here, wait_for_local, wait_for_slurm
from hydra_python_sweeper.cluster.processes import Process
from hydra_python_sweeper.cluster.slurm import QUEUED, describe, sweep_tasks
from hydra_python_sweeper.journal.reader import JournalState, read_more
from hydra_python_sweeper.journal.resume_batches import consecutive_runs
from hydra_python_sweeper.journal.since import ends_since
from hydra_python_sweeper.messages import plural
from hydra_python_sweeper.run.settings import Settings

log = logging.getLogger(__name__)

Batch = Tuple[int, Sequence[Sequence[str]]]


def _any_alive(processes: List[Process]) -> bool:
    """Whether any of the processes of an adopted group still runs (each proved the job's)."""
    return any(process.alive() for process in processes)


class Adopted:
    """A group of adopted jobs (of one earlier batch): a place among the batches in flight
    until none of them runs (``alive``, given where each runs, says whether any does)."""

    def __init__(
        self, numbers: List[int], where: Dict[int, Any], alive: Callable[[List[Any]], bool]
    ) -> None:
        self.numbers = numbers
        self.where = where
        self.alive = alive

    def __str__(self) -> str:
        first, last = self.numbers[0], self.numbers[-1]
        return f"#{first}" if first == last else f"#{first} to #{last}"

    def wait(self, path: Path, offset: int, poll: float) -> Dict[int, Dict[str, Any]]:
        """Wait until each job has written its end line in the journal at ``path`` (from
        byte ``offset`` on) or no longer runs (a worker that ran it may live on: joblib's);
        their end lines, for those that wrote one."""
        found: Dict[int, Dict[str, Any]] = {}
        numbers = set(self.numbers)
        while True:
            offset = ends_since(path, numbers, offset, found)
            left = [self.where[number] for number in self.numbers if number not in found]
            if not left or not self.alive(left):
                break
            time.sleep(poll)
        ends_since(path, numbers, offset, found)  # a last end written as its process exited
        return found


class Adoption:
    """The jobs adopted by a resume (job number -> where it runs: its pid on this host, or
    its SLURM task), grouped by the earlier run's batches of ``batch_size``, their ends read
    from byte ``offset`` of the journal on; ``alive`` tells whether any of a group still
    runs. See the module's docstring."""

    def __init__(
        self,
        where: Dict[int, Any],
        batch_size: Optional[int],
        offset: int = 0,
        alive: Callable[[List[Any]], bool] = _any_alive,
    ) -> None:
        self.where = where
        self.batch_size = batch_size
        self.offset = offset
        self.alive = alive
        self.running: Set[int] = set(where)  # adopted, not known to have ended
        self.held: Dict[int, Sequence[str]] = {}  # their jobs, as the stream regenerated them
        self.exited: Dict[int, bool] = {}  # ended: whether with an end line

    def items(self) -> List[Adopted]:
        """The groups, each a place among the batches in flight."""
        numbered = [(number, number) for number in sorted(self.where)]
        groups = [group for _, group in consecutive_runs(numbered, self.batch_size)]
        return [Adopted(group, self.where, self.alive) for group in groups]

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

    def announce(self, label: str) -> None:
        """Say which jobs are adopted, each where it runs (``label``: "pid", "SLURM task")."""
        jobs = sorted(self.where.items())
        shown = ", ".join(f"#{job} ({label} {where})" for job, where in jobs[:10])
        more = f" and {len(jobs) - 10} more" if len(jobs) > 10 else ""
        log.warning(
            f"{plural(len(jobs), 'job')} of this sweep, launched by an earlier run, still "
            f"run: {shown}{more}. They are adopted: each group takes a place among the "
            "batches in flight until it ends, and a job that ends without its end line is "
            "launched again"
        )


def adopt(
    journal: JournalState, path: Path, settings: Settings, adaptive: bool, slurm: bool
) -> Optional[Adoption]:
    """The jobs of ``journal`` that still run, on this host or, with a ``slurm`` launcher, as
    SLURM tasks, adopted (``None``: none); their ends are read from the journal at ``path``
    as it is now on. With ``resume=force`` (they run again) or for an ``adaptive`` sweep
    (which learns results in order), they are waited for instead, before anything is
    launched."""
    poll = min(settings.poll_interval, 1.0)
    if settings.resume == "force" or adaptive:
        if slurm:
            offset = path.stat().st_size
            wait_for_slurm(path.parent, settings.poll_interval)
            read_more(path, journal, offset)  # what they wrote meanwhile
        if settings.resume != "force":
            wait_for_local(journal, path, poll)
        return None
    offset = path.stat().st_size
    if slurm:
        where = _slurm_tasks(path.parent, journal)
        adoption = Adoption(where, settings.batch_size, offset, partial(_slurm_alive, path.parent))
        label = "SLURM task"
    else:
        adoption = Adoption(dict(alive_here(journal)), settings.batch_size, offset)
        label = "pid"
    if not adoption.where:
        return None
    adoption.announce(label)
    return adoption


def _slurm_tasks(sweep_dir: Path, journal: JournalState) -> Dict[int, str]:
    """The sweep's SLURM tasks that run (job number -> task id), the queued ones cancelled:
    they would stand down once started, and this run launches their jobs. A packed task
    runs several jobs: those its started lines name, not yet ended (the jobs it takes from
    now on stand down)."""
    tasks = [task for task in sweep_tasks(sweep_dir) or [] if task.alive]
    queued = [task for task in tasks if task.state in QUEUED]
    if queued:
        subprocess.run(["scancel", *[task.job_id for task in queued]], check=False)
        log.warning(
            f"{plural(len(queued), 'SLURM task')} of this sweep, submitted by an earlier run, "
            f"were still queued: cancelled, this run launches their jobs ({describe(queued)})"
        )
    running = [task for task in tasks if task.state not in QUEUED]
    where = {task.number: task.job_id for task in running if task.number >= 0}
    packed = {task.job_id for task in running if task.number < 0}
    for job, raw in journal.started.items() if packed else ():
        task_id = json.loads(raw).get("slurm")
        if task_id in packed:
            where[job] = task_id
    return where


def _slurm_alive(sweep_dir: Path, ids: List[str]) -> bool:
    """Whether SLURM still has any of the tasks ``ids`` (yes when it cannot be asked)."""
    tasks = sweep_tasks(sweep_dir)
    return tasks is None or bool({task.job_id for task in tasks if task.alive} & set(ids))


def returned_by(end: Dict[str, Any]) -> JobReturn:
    """What an adopted job returned, from its end line (a failure's error as its text).

    >>> returned_by({"status": "failed", "return": "ValueError('x')"}).status.name
    'FAILED'
    """
    if end.get("status") == "completed":
        return JobReturn(status=JobStatus.COMPLETED, _return_value=end.get("return"))
    error = RuntimeError(f"{end.get('return')} (a job adopted from an earlier run)")
    return JobReturn(status=JobStatus.FAILED, _return_value=error)
