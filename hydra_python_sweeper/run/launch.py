"""One batch handed to the launcher, and what came of it, whatever the launcher did.

A launcher's ``launch()`` returns one ``JobReturn`` per job once its whole batch has ended.
On a cluster it may instead raise (submitit raises for a task that was cancelled, or lost
to its node, while the other tasks of its array run on), or never return (submitit waits
for ever on a queued task that was cancelled). :class:`BatchLauncher` makes either a fact
about the batch: its jobs whose end line is in the journal ended as that line says; the
others failed, with the launcher's or SLURM's reason, once SLURM no longer has them queued
or running. Nothing waits without an end, and the sweep goes on as ``fail_fast`` says.

With SLURM, each batch's array is tagged (:mod:`cluster.slurm`), so the batch's tasks are asked
of SLURM by one ``squeue`` call every ``poll_interval`` seconds while it runs; a submission
refused by a limit on queued jobs is tried again when the sweep's other arrays have made
room, and a batch larger than the cluster's ``MaxArraySize`` is refused before it is
submitted::

    >>> import tempfile
    >>> class Broken:
    ...     def launch(self, jobs, initial_job_idx):
    ...         raise RuntimeError("node lost")
    >>> journal = Path(tempfile.mkdtemp()) / "journal.jsonl"
    >>> journal.touch()
    >>> returns = BatchLauncher(Broken(), journal.parent, journal)((0, [["a=1"]]))
    >>> returns[0].status.name, str(returns[0]._return_value)  # doctest: +ELLIPSIS
    ('FAILED', 'job #0 did not end: RuntimeError: node lost (...)')
"""

import logging
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from hydra.core.utils import JobReturn

from hydra_python_sweeper.cluster.slurm import (
    PACKED,
    Task,
    TaskPoll,
    alive_tasks,
    batch_comment,
    is_slurm,
    max_array_size,
    tagged,
)
from hydra_python_sweeper.errors import SettingError, describe_exception
from hydra_python_sweeper.journal.lines import JOURNALED
from hydra_python_sweeper.run.joblib_pool import one_at_a_time, uses_joblib
from hydra_python_sweeper.run.packing import PackedLauncher, tasks_for
from hydra_python_sweeper.run.settings import runs_jobs_in_this_process
from hydra_python_sweeper.run.settle import UNRUN, settle

log = logging.getLogger(__name__)

#: What SLURM says when a submission would pass a limit on the jobs a user may queue.
_QUEUE_LIMIT = re.compile(
    r"MaxSubmitJob|AssocMaxSubmitJobLimit|QOSMaxSubmitJobPerUserLimit|job submit limit"
)


class BatchLauncher:
    """Launches batches with ``launcher`` for the sweep in ``sweep_dir`` (its journal at
    ``journal``); see the module's docstring."""

    def __init__(
        self,
        launcher: Any,
        sweep_dir: Path,
        journal: Path,
        poll_interval: float = 10.0,
        batch_size: Optional[int] = None,
    ) -> None:
        self.launcher = launcher
        self.sweep_dir = sweep_dir
        self.journal = journal
        self.poll = poll_interval
        self.slurm = is_slurm(launcher)
        #: The batches in flight share one ``squeue`` a poll (each asks every poll).
        self.poll_tasks = TaskPoll(sweep_dir, every=0.9 * poll_interval)
        self.limit = max_array_size() if self.slurm else None
        self.launches: Dict[int, str] = {}  # by a batch's first job: its latest launch
        #: Packed (:mod:`.packing`): the batch's tasks each run several of its jobs.
        self.packed = isinstance(launcher, PackedLauncher)
        #: Whether the sweep needs its jobs' return values (it keeps them, or learns from
        #: them): asked when a batch is settled from the journal.
        self.values: Callable[[], bool] = lambda: True
        if uses_joblib(launcher):  # batches in flight each take joblib's pool whole
            one_at_a_time()
        if batch_size is not None:
            self.check(0, batch_size, "hydra.sweeper.max_batch_size=")

    def check(self, start: int, size: int, what: str = "") -> None:
        """Refuse a batch of ``size`` jobs that SLURM would refuse as one array (packed: of
        as many tasks as it needs)."""
        jobs = size
        if self.packed:
            size = tasks_for(size, self.launcher.jobs_per_task)
        if self.limit is not None and size > self.limit:
            what = what or f"batch of jobs #{start} to #{start + jobs - 1}: "
            packed = f" in {size} tasks" if self.packed else ""
            most = self.limit * (self.launcher.jobs_per_task if self.packed else 1)
            raise SettingError(
                f"{what}{jobs} jobs{packed}, but this SLURM cluster's MaxArraySize is "
                f"{self.limit} (scontrol show config): each batch is one job array, of at most "
                f"that many tasks. Set hydra.sweeper.max_batch_size to at most {most}. "
                "Nothing of this batch was launched."
            )

    def __call__(self, item: Tuple[int, Sequence[Sequence[str]]]) -> Sequence[JobReturn]:
        start, jobs = item
        offset = self.journal.stat().st_size  # this launch's end lines come after it
        if not self.slurm:
            try:
                returns = self.launcher.launch(jobs, initial_job_idx=start)
                if self.packed:  # what each job did is in the journal
                    return self.settle(start, jobs, offset, UNRUN, watch=False)
                return returns  # type: ignore[no-any-return]
            except Exception as error:
                self.failed_launch(start, jobs, error)
                returns = self.settle(start, jobs, offset, describe_exception(error), watch=False)
                return self.rest_after(start, jobs, returns)
        while True:
            outcome = self.watched(start, jobs)
            if isinstance(outcome, list):
                if self.packed:  # what each job did is in the journal
                    return self.settle(start, jobs, offset, UNRUN, watch=True)
                return outcome
            if isinstance(outcome, BaseException) and self.refused_for_room(start, outcome):
                continue
            reason = describe_exception(outcome) if outcome is not None else "lost"
            if outcome is not None:
                self.failed_launch(start, jobs, outcome)
            return self.settle(start, jobs, offset, reason, watch=True)

    def rest_after(
        self, start: int, jobs: Sequence[Sequence[str]], returns: List[JobReturn]
    ) -> List[JobReturn]:
        """A launcher that runs the batch's jobs one after the other in this process (Hydra's
        basic launcher) raised at the first job without an end (its config could not be
        composed, with ``validate=false``): that job failed; the jobs after it never began,
        and are launched now."""
        if not runs_jobs_in_this_process(self.launcher):
            return returns
        first = next((i for i, r in enumerate(returns) if not getattr(r, JOURNALED, False)), None)
        if first is None or first + 1 >= len(jobs):
            return returns
        rest = self((start + first + 1, jobs[first + 1 :]))
        return [*returns[: first + 1], *rest]

    def watched(self, start: int, jobs: Sequence[Sequence[str]]) -> Any:
        """Run the batch's ``launch()`` on a thread of its own, and ask SLURM about its
        tasks every poll: the launch's returns, or its exception, or ``None`` when every
        task of the batch has ended while ``launch()`` still waits (it is left waiting)."""
        launch = uuid.uuid4().hex[:8]  # this launch's tasks, not an earlier attempt's
        if self.packed:  # its tasks are not its jobs (SLURM's Task.number is -1)
            launch = PACKED + launch[1:]
        launcher = tagged(self.launcher, batch_comment(self.sweep_dir, start, launch))
        self.launches[start] = launch
        outcome: List[Any] = []

        def target() -> None:
            try:
                outcome.append(list(launcher.launch(jobs, initial_job_idx=start)))
            except BaseException as error:
                outcome.append(error)

        thread = threading.Thread(target=target, name="hydra-python-sweeper-slurm", daemon=True)
        thread.start()
        numbers = range(start, start + len(jobs))
        seen = False
        while True:
            thread.join(self.poll)
            if not thread.is_alive():
                return outcome[0]
            tasks = self.tasks(numbers)
            if tasks is None:
                continue  # SLURM cannot be asked now: wait for the launch
            seen = seen or bool(tasks)
            if seen and not any(task.alive for task in tasks.values()):
                thread.join(self.poll)  # a last chance to return as it should
                if not thread.is_alive():
                    return outcome[0]
                log.warning(
                    f"Jobs #{start} to #{numbers[-1]}: SLURM has none of their tasks queued or "
                    "running, but the launcher still waits for them: the sweeper stops waiting"
                )
                return None

    def tasks(self, numbers: range, fresh: bool = False) -> Optional[Dict[int, Task]]:
        """The batch's tasks as SLURM shows them (at most a poll ago, or ``fresh``): those
        its latest launch submitted."""
        tasks = self.poll_tasks(fresh)
        if tasks is None:
            return None
        launch = self.launches.get(numbers.start)
        if self.packed:  # a task a key, none of them a job's number
            return {-1 - i: task for i, task in enumerate(t for t in tasks if t.launch == launch)}
        return {
            task.number: task
            for task in tasks
            if task.number in numbers and (launch is None or task.launch == launch)
        }

    def refused_for_room(self, start: int, error: BaseException) -> bool:
        """Whether SLURM refused the batch's array for a limit on queued jobs while other
        arrays of this sweep are queued or running: then it waits for room and says so."""
        limit = _QUEUE_LIMIT.search(str(error))
        if limit is None:
            return False
        mine = alive_tasks(self.sweep_dir)
        if not mine:
            return False
        log.warning(
            f"Batch of jobs from #{start}: SLURM refused its array ({limit[0]}"
            f": too many jobs queued); {len(mine)} tasks of this sweep are queued or running. "
            f"Trying again in {self.poll:g} s, while they make room."
        )
        time.sleep(self.poll)
        return True

    def failed_launch(
        self, start: int, jobs: Sequence[Sequence[str]], error: BaseException
    ) -> None:
        log.error(
            f"Jobs #{start} to #{start + len(jobs) - 1}: the launcher raised "
            f"{describe_exception(error)}. Their jobs with an end in the journal count as it "
            "says; the others fail with this reason"
        )

    def settle(
        self, start: int, jobs: Sequence[Sequence[str]], offset: int, reason: str, watch: bool
    ) -> List[JobReturn]:
        """The batch's returns (:func:`.settle.settle`); ``watch``: while SLURM still has
        some of its tasks queued or running, wait for them."""
        numbers = range(start, start + len(jobs))
        first = iter([True])  # asked now the first time: the launch has just ended

        def tasks() -> Optional[Dict[int, Task]]:
            return self.tasks(numbers, fresh=next(first, False))

        return settle(
            self.journal, start, jobs, offset, reason, self.packed, tasks if watch else None,
            self.poll, self.values(),
        )  # fmt: skip
