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
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from hydra.core.utils import JobReturn, JobStatus

from hydra_python_sweeper.cluster.slurm import (
    PACKED,
    Task,
    alive_tasks,
    batch_comment,
    is_slurm,
    max_array_size,
    sweep_tasks,
    tagged,
)
from hydra_python_sweeper.errors import PythonSweeperError, SettingError, describe_exception
from hydra_python_sweeper.journal.lines import JOURNALED
from hydra_python_sweeper.journal.since import ends_since, started_since
from hydra_python_sweeper.run.joblib_pool import one_at_a_time, uses_joblib
from hydra_python_sweeper.run.packing import PackedLauncher, tasks_for
from hydra_python_sweeper.run.settings import runs_jobs_in_this_process

log = logging.getLogger(__name__)

#: What SLURM says when a submission would pass a limit on the jobs a user may queue.
_QUEUE_LIMIT = re.compile(
    r"MaxSubmitJob|AssocMaxSubmitJobLimit|QOSMaxSubmitJobPerUserLimit|job submit limit"
)


#: Why a job of a packed batch without an end failed, when its tasks ended well.
_UNRUN = "its packed task ended without running it to its end"


class LaunchFailed(PythonSweeperError):
    """A job that the launcher (or the cluster) lost: it wrote no end, and does not run;
    ``unstarted``: its task failed before the job started (it ran nothing)."""

    def __init__(self, message: str, unstarted: bool = False) -> None:
        super().__init__(message)
        self.unstarted = unstarted


#: The states of a SLURM task that failed on its own (not cancelled, not timed out): before
#: its job started, nothing of it ran (a node that failed to boot; its log folder not there
#: yet, a race of submitit with SLURM before 23.02: hydra#2100).
_FAILED_ON_ITS_OWN = {"FAILED", "NODE_FAIL", "BOOT_FAIL"}


def _unstarted(journal: Path, states: Dict[int, str], offset: int) -> Set[int]:
    """The jobs whose SLURM task failed on its own (``states``) before the job started (no
    started line from byte ``offset`` of the journal): they ran nothing. The tail is read
    again only for a batch with such a task (rare)."""
    failed = {number for number, state in states.items() if state in _FAILED_ON_ITS_OWN}
    return failed - set(started_since(journal, failed, offset)) if failed else set()


def _packed_states(
    journal: Path, lost: Set[int], tasks: Dict[str, str], offset: int
) -> Dict[int, str]:
    """Why each job of ``lost`` (packed, no end) did not end, as SLURM last showed the task
    that took it (its started line from byte ``offset`` names it; ``tasks``: the ended tasks'
    states by SLURM id); a job no task took is not there."""
    if not lost or not tasks:
        return {}
    found = {}
    for number, line in started_since(journal, lost, offset).items():
        task = line.get("slurm")
        if task in tasks:
            found[number] = f"SLURM state {tasks[task]} of its packed task {task}"
    return found


class JobFailed(Exception):
    """A job's failure as its journal line records it (its error, as text)."""


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
        self.limit = max_array_size() if self.slurm else None
        self.launches: Dict[int, str] = {}  # by a batch's first job: its latest launch
        #: Packed (:mod:`.packing`): the batch's tasks each run several of its jobs.
        self.packed = isinstance(launcher, PackedLauncher)
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
                    return self.settle(start, jobs, offset, _UNRUN, watch=False)
                return returns  # type: ignore[no-any-return]
            except Exception as error:
                self.failed_launch(start, jobs, error)
                returns = self.settle(start, jobs, offset, describe_exception(error), watch=False)
                return self.rest_after(start, jobs, returns)
        while True:
            outcome = self.watched(start, jobs)
            if isinstance(outcome, list):
                if self.packed:  # what each job did is in the journal
                    return self.settle(start, jobs, offset, _UNRUN, watch=True)
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

    def tasks(self, numbers: range) -> Optional[Dict[int, Task]]:
        """The batch's tasks as SLURM shows them: those its latest launch submitted."""
        tasks = sweep_tasks(self.sweep_dir)
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
        """The batch's returns, from the journal (from byte ``offset``, where the batch was
        launched): each job that wrote its end, as it ended;
        the others (once SLURM has none of them queued or running, when ``watch``) failed
        with ``reason``, or with the state SLURM last showed them in."""
        numbers = range(start, start + len(jobs))
        states: Dict[int, str] = {}  # packed: by task key (-1, -2...), the job unknown
        ended_tasks: Dict[str, str] = {}  # by SLURM id: their last state
        ends: Dict[int, Dict[str, Any]] = {}
        read = offset  # the journal read on from there, each line once (a batch's tail)
        while watch:
            tasks = self.tasks(numbers)
            if tasks is None:
                break
            read = ends_since(self.journal, numbers, read, ends)
            running = {n for n, task in tasks.items() if task.alive and n not in ends}
            states.update({n: task.state for n, task in tasks.items() if not task.alive})
            ended_tasks.update({t.job_id: t.state for t in tasks.values() if not t.alive})
            if not running:
                time.sleep(min(self.poll, 2.0))  # an end line written as the task ended
                break
            log.info(
                f"Jobs #{start} to #{numbers[-1]}: waiting for {len(running)} tasks SLURM still "
                f"has queued or running (#{min(running)} first)"
            )
            time.sleep(self.poll)
        ends_since(self.journal, numbers, read, ends)
        unstarted = set() if self.packed else _unstarted(self.journal, states, offset)
        if self.packed:  # a job's task is known by its started line
            missing = {n for n in numbers if n not in ends}
            states = _packed_states(self.journal, missing, ended_tasks, offset)
        else:
            states = {n: f"SLURM state {state}" for n, state in states.items()}
        returns = []
        lost: Set[int] = set()
        for number, job in zip(numbers, jobs):
            record = ends.get(number)
            if record is not None:
                completed = record.get("status") == "completed"
                value = record.get("return")
                result = JobReturn(
                    overrides=list(job),
                    status=JobStatus.COMPLETED if completed else JobStatus.FAILED,
                    _return_value=value if completed else JobFailed(str(value)),
                )
                setattr(result, JOURNALED, True)
            else:
                lost.add(number)
                why = states.get(number, reason)
                if number in unstarted:
                    why += ", its task failed before the job started"
                result = JobReturn(
                    overrides=list(job),
                    status=JobStatus.FAILED,
                    _return_value=LaunchFailed(
                        f"job #{number} did not end: {why}", number in unstarted
                    ),
                )
            returns.append(result)
        if lost:
            log.warning(
                f"Jobs #{start} to #{numbers[-1]}: {len(lost)} of them wrote no end and do not "
                f"run (#{min(lost)} first): counted as failed; a resume runs them again"
            )
        return returns
