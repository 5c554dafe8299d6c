"""What came of a launched batch, from what its jobs wrote in the journal.

A launcher may return, raise, or lose jobs with their tasks; whatever it did, the journal
holds the truth: each job whose end line is there ended as that line says; the others
failed, with the launcher's reason or the state SLURM last showed their task in, once
SLURM has none of them queued or running. What failed so is a :class:`LaunchFailed`, which
``retries`` (:mod:`.retries`) may launch again.

    >>> import tempfile
    >>> from hydra_python_sweeper.journal.writer import append
    >>> from hydra_python_sweeper.journal.lines import job_line
    >>> journal = Path(tempfile.mkdtemp()) / "journal.jsonl"
    >>> append(journal, job_line(0, ["a=1"], True, 7, "0"))
    >>> ended, lost = settle(journal, 0, [["a=1"], ["a=2"]], 0, "node lost")
    >>> ended.status.name, ended.return_value, lost.status.name, str(lost._return_value)
    ('COMPLETED', 7, 'FAILED', 'job #1 did not end: node lost')
"""

import logging
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Set

from hydra.core.utils import JobReturn, JobStatus

from hydra_python_sweeper.cluster.slurm import Task
from hydra_python_sweeper.errors import PythonSweeperError
from hydra_python_sweeper.journal.lines import JOURNALED
from hydra_python_sweeper.journal.since import ends_since, started_since

log = logging.getLogger(__name__)

#: What a return needs of a job's end line.
_KEPT = ("status", "return")

#: Why a job of a packed batch without an end failed, when its tasks ended well.
UNRUN = "its packed task ended without running it to its end"


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


def settle(
    journal: Path,
    start: int,
    jobs: Sequence[Sequence[str]],
    offset: int,
    reason: str,
    packed: bool = False,
    tasks: Optional[Callable[[], Optional[Dict[int, Task]]]] = None,
    poll: float = 10.0,
    values: bool = True,
) -> List[JobReturn]:
    """The returns of the batch of ``jobs`` numbered from ``start``, from the ``journal``
    (from byte ``offset``, where the batch was launched): each job that wrote its end, as it
    ended; the others failed with ``reason``, or with the state SLURM last showed them (or,
    ``packed``, the task that took them) in. ``tasks`` asks SLURM for the batch's tasks
    (by job number; packed, by a key of their own): while some are queued or running, it
    waits for them, asking every ``poll`` seconds. Without ``values`` (the sweep keeps no
    returns and learns from none), a completed job's return is not read back."""
    numbers = range(start, start + len(jobs))
    states: Dict[int, str] = {}  # packed: by task key (-1, -2...), the job unknown
    ended_tasks: Dict[str, str] = {}  # by SLURM id: their last state
    ends: Dict[int, Dict[str, Any]] = {}
    read = offset  # the journal read on from there, each line once (a batch's tail)
    while tasks is not None:
        shown = tasks()
        if shown is None:
            break
        read = ends_since(journal, numbers, read, ends, _KEPT, values)
        running = {n for n, task in shown.items() if task.alive and n not in ends}
        states.update({n: task.state for n, task in shown.items() if not task.alive})
        ended_tasks.update({t.job_id: t.state for t in shown.values() if not t.alive})
        if not running:
            time.sleep(min(poll, 2.0))  # an end line written as the task ended
            break
        first = f"task {shown[max(running)].job_id}" if packed else f"#{min(running)}"
        log.info(
            f"Jobs #{start} to #{numbers[-1]}: waiting for {len(running)} tasks SLURM still "
            f"has queued or running ({first} first)"
        )
        time.sleep(poll)
    ends_since(journal, numbers, read, ends, _KEPT, values)
    unstarted = set() if packed else _unstarted(journal, states, offset)
    if packed:  # a job's task is known by its started line
        missing = {n for n in numbers if n not in ends}
        reasons = _packed_states(journal, missing, ended_tasks, offset)
    else:
        reasons = {n: f"SLURM state {state}" for n, state in states.items()}
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
            why = reasons.get(number, reason)
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
