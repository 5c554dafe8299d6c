"""What SLURM knows of a sweep's jobs: its arrays tagged at submission, asked in one call.

With ``hydra/launcher=submitit_slurm`` each batch is one job array. The sweeper tags every
array it submits with a comment naming the sweep dir and the batch's first job number
(:func:`batch_comment`), so that one ``squeue`` call (:func:`sweep_tasks`) tells, for every
task of the sweep still queued, running or recently ended, its job number and its state,
whatever process submitted it and whether or not it has started::

    >>> parse_tasks("7_2|7|2|RUNNING|hydra-python-sweeper:1a2b:10:c3|node1\\n", "1a2b")
    [Task(array='7', task=2, number=12, state='RUNNING', where='node1', launch='c3')]
"""

import logging
import os
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, List, NamedTuple, Optional

import xxhash

log = logging.getLogger(__name__)

TAG = "hydra-python-sweeper"
#: The first letter of a packed batch's launch (its tasks each run several of its jobs).
PACKED = "p"
#: States of a task that may still run (or run again).
ALIVE = frozenset(
    {
        "PENDING",
        "RUNNING",
        "CONFIGURING",
        "COMPLETING",
        "SUSPENDED",
        "REQUEUED",
        "REQUEUE_FED",
        "REQUEUE_HOLD",
        "RESIZING",
        "SIGNALING",
        "STAGE_OUT",
        "STOPPED",
        "RESV_DEL_HOLD",
    }
)
#: The states of a task that has not started (and may yet).
QUEUED = frozenset({"PENDING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESV_DEL_HOLD"})
_FORMAT = "%i|%F|%K|%T|%k|%R"  # job id, array job id, task index, state, comment, where/why


class Task(NamedTuple):
    """One array task of the sweep, as ``squeue`` shows it."""

    array: str  # the array's job id
    task: int  # the task's index in its array
    number: int  # the sweep's job number
    state: str  # RUNNING, PENDING, CANCELLED...
    where: str  # its node, or why it waits
    launch: str = ""  # the launch that submitted it (a batch launched again has another)

    @property
    def alive(self) -> bool:
        return self.state in ALIVE

    @property
    def job_id(self) -> str:
        return f"{self.array}_{self.task}" if self.task >= 0 else self.array


def is_slurm(launcher: Any) -> bool:
    """Whether ``launcher`` submits its batches as SLURM arrays (hydra-submitit-launcher's
    ``submitit_slurm``)."""
    return getattr(launcher, "_EXECUTOR", None) == "slurm"


def sweep_id(sweep_dir: Path) -> str:
    """A short digest of the sweep dir's absolute path: the tag of its arrays.

    >>> sweep_id(Path("/runs/a")) == sweep_id(Path("/runs/a")) != sweep_id(Path("/runs/b"))
    True
    """
    return xxhash.xxh64_hexdigest(str(sweep_dir.absolute()).encode())[:12]


def batch_comment(sweep_dir: Path, start: int, launch: str) -> str:
    """The comment of the array that runs the batch starting at job ``start``, submitted by
    the launch named ``launch``."""
    return f"{TAG}:{sweep_id(sweep_dir)}:{start}:{launch}"  # no spaces: an #SBATCH line


def driver_comment(sweep_dir: Path) -> str:
    """The comment of a detached sweep's driver job: the sweep's tag, so that ``status`` and
    ``cancel`` know it by what SLURM says, not by a file that names a job id.

    >>> driver_comment(Path("/runs/a")) == f"{TAG}:{sweep_id(Path('/runs/a'))}:driver"
    True
    """
    return f"{TAG}:{sweep_id(sweep_dir)}:driver"


def tagged(launcher: Any, comment: str) -> Any:
    """A copy of the submitit ``launcher`` whose arrays carry ``comment`` (after the user's
    own comment, if any); the launcher itself is not changed, so batches launched at once
    each carry their own."""
    import copy

    clone = copy.copy(launcher)
    params = dict(launcher.params)
    own = params.get("comment")
    params["comment"] = f"{own},{comment}" if own else comment
    clone.params = params
    return clone


def parse_tasks(output: str, sweep: str) -> List[Task]:
    """The tasks of the sweep ``sweep`` (its :func:`sweep_id`) in ``squeue -o`` output."""
    tasks = []
    pattern = re.compile(rf"(?:^|[\s,]){TAG}:{re.escape(sweep)}:(\d+)(?::(\w+))?(?:[\s,]|$)")
    for line in output.splitlines():
        fields = line.split("|")
        if len(fields) < 6:
            continue
        job, array, index, state, comment, where = fields[:6]
        match = pattern.search(comment)
        if match is None:
            continue
        # a batch of one job is submitted as a job of its own, not an array (index N/A)
        task = int(index) if index.isdigit() else -1
        number = int(match[1]) + max(task, 0)
        if (match[2] or "").startswith(PACKED):  # a packed task runs several jobs
            number = -1
        found = Task(array if task >= 0 else job, task, number, state.split()[0], where)
        tasks.append(found._replace(launch=match[2] or ""))
    return tasks


def parse_drivers(output: str, sweep: str) -> List[Task]:
    """The driver jobs of the sweep ``sweep`` in ``squeue -o`` output (``number`` -1).

    >>> parse_drivers("9|9|N/A|PENDING|hydra-python-sweeper:1a2b:driver|(None)\\n", "1a2b")
    [Task(array='9', task=-1, number=-1, state='PENDING', where='(None)', launch='')]
    >>> parse_drivers("9|9|N/A|PENDING|x|(None)\\n", "1a2b")
    []
    """
    pattern = re.compile(rf"(?:^|[\s,]){TAG}:{re.escape(sweep)}:driver(?:[\s,]|$)")
    found = []
    for line in output.splitlines():
        fields = line.split("|")
        if len(fields) >= 6 and pattern.search(fields[4]):
            found.append(Task(fields[0], -1, -1, fields[3].split()[0], fields[5]))
    return found


def sweep_drivers(sweep_dir: Path) -> Optional[List[Task]]:
    """The driver jobs of this sweep that SLURM has queued or running, known by their tag
    (:func:`driver_comment`), from one ``squeue`` call; ``None`` if SLURM cannot be asked."""
    output = _squeue(["-h", "-o", _FORMAT])
    if output is None:
        return None
    return [job for job in parse_drivers(output, sweep_id(sweep_dir)) if job.alive]


def _squeue(arguments: List[str]) -> Optional[str]:
    try:
        done = subprocess.run(["squeue", *arguments], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        log.warning(f"squeue cannot be asked about the sweep's SLURM jobs: {error}")
        return None
    if done.returncode != 0:
        log.warning(f"squeue cannot be asked about the sweep's SLURM jobs: {done.stderr.strip()}")
        return None
    return done.stdout


def sweep_tasks(sweep_dir: Path, mine: bool = False) -> Optional[List[Task]]:
    """Every task of this sweep's arrays that SLURM still shows (queued, running, or ended
    recently), from one ``squeue`` call; ``None`` if SLURM cannot be asked. ``mine``: only
    this user's (the arrays this process submitted are), which spares reading every other
    user's tasks of a busy cluster."""
    user = ["--user", str(os.getuid())] if mine else []
    output = _squeue(["-h", "-r", "-t", "all", *user, "-o", _FORMAT])
    return None if output is None else parse_tasks(output, sweep_id(sweep_dir))


class TaskPoll:
    """This user's tasks of the sweep in ``sweep_dir``, asked of SLURM at most once every
    ``every`` seconds whoever asks: the batches in flight share one ``squeue`` a poll, where
    each asked its own (``squeue`` costs the login node about 7 ms of CPU a call).

        >>> poll = TaskPoll(Path("/runs/a"), every=60.0)
        >>> poll.at = time.monotonic(); poll.tasks = []  # as if just asked
        >>> poll()  # not asked again within the minute
        []
    """

    def __init__(self, sweep_dir: Path, every: float) -> None:
        self.sweep_dir = sweep_dir
        self.every = every
        self.at = float("-inf")
        self.tasks: Optional[List[Task]] = None
        self.lock = threading.Lock()

    def __call__(self, fresh: bool = False) -> Optional[List[Task]]:
        """The tasks, as SLURM showed them at most ``every`` seconds ago (``fresh``: now)."""
        with self.lock:
            if fresh or time.monotonic() - self.at >= self.every:
                self.tasks = sweep_tasks(self.sweep_dir, mine=True)
                self.at = time.monotonic()
            return self.tasks


def alive_tasks(sweep_dir: Path) -> List[Task]:
    """The tasks of this sweep that SLURM still has queued or running."""
    return [task for task in sweep_tasks(sweep_dir) or [] if task.alive]


def cancel_command(tasks: List[Task]) -> str:
    """The ``scancel`` command that cancels these tasks' arrays.

    >>> cancel_command([Task("7", 0, 0, "RUNNING", "n1"), Task("7", 1, 1, "PENDING", "")])
    'scancel 7'
    """
    return "scancel " + " ".join(sorted({task.array for task in tasks}, key=_numeric))


def describe(tasks: List[Task], most: int = 10) -> str:
    """The tasks, for a message: their job numbers and SLURM ids.

    >>> describe([Task("7", 0, 4, "RUNNING", "node1"), Task("7", 1, 5, "PENDING", "(Priority)")])
    '#4 (SLURM 7_0, RUNNING on node1), #5 (SLURM 7_1, PENDING (Priority))'
    """
    shown = []
    for task in sorted(tasks, key=lambda t: t.number)[:most]:
        where = f" on {task.where}" if task.state == "RUNNING" else f" {task.where}"
        shown.append(f"#{task.number} (SLURM {task.job_id}, {task.state}{where.rstrip()})")
    more = f" and {len(tasks) - most} more" if len(tasks) > most else ""
    return ", ".join(shown) + more


def max_array_size() -> Optional[int]:
    """The cluster's ``MaxArraySize`` (``scontrol show config``); ``None`` if unknown."""
    try:
        done = subprocess.run(
            ["scontrol", "show", "config"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"^MaxArraySize\s*=\s*(\d+)", done.stdout, re.MULTILINE)
    return int(match[1]) if match else None


def _numeric(text: str) -> Any:
    return (0, int(text)) if text.isdigit() else (1, text)
