"""Where a journal line's process runs: what its *started* line records so that a later
reader can tell whether a process is still the job (SLURM's ids for the job; on the host,
the pid and when that process started).

A pid alone proves nothing: pids are reused (``pid_max`` is 32,768 on many systems), so a
process found under a recorded pid may be anyone's by now. The pair (pid, start time) names
one process for as long as the host is up: the start time is ``/proc/<pid>/stat``'s 22nd
field, clock ticks since boot, which no later process with the same pid can share.

    >>> import os
    >>> process_start(os.getpid()) == process_start(os.getpid()) != None
    True
    >>> process_start(2**22 + 1) is None  # above any pid_max: no such process
    True
"""

import os
from typing import Any, Dict, Optional


def process_start(pid: int) -> Optional[int]:
    """When process ``pid`` of this host started, in clock ticks since the host booted;
    ``None`` if there is no such process, or no ``/proc`` to ask."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # the command name, in parentheses, may hold spaces and parentheses: split after it
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[19])  # field 22 of the whole line; the 20th after the name
    except (OSError, IndexError, ValueError):
        return None


def this_process() -> Dict[str, Any]:
    """This process's identity for its *started* line: ``{"since": <its start>}`` (empty
    where the host has no ``/proc``).

    >>> this_process()["since"] == process_start(os.getpid())
    True
    """
    since = process_start(os.getpid())
    return {} if since is None else {"since": since}


def job_environment() -> Dict[str, Any]:
    """Where this job runs, as SLURM tells it (for the job's *started* line): its job id,
    array job and task, node and restart count; empty outside SLURM.

    >>> import os
    >>> saved = dict(os.environ)
    >>> os.environ.update({"SLURM_JOB_ID": "12", "SLURM_ARRAY_JOB_ID": "7",
    ...                    "SLURM_ARRAY_TASK_ID": "3", "SLURMD_NODENAME": "node2"})
    >>> job_environment()
    {'slurm': '7_3', 'node': 'node2'}
    >>> os.environ.clear(); os.environ.update(saved)
    """
    job = os.environ.get("SLURM_JOB_ID")
    if not job:
        return {}
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    found: Dict[str, Any] = {"slurm": f"{array}_{task}" if array and task else job}
    if os.environ.get("SLURMD_NODENAME"):
        found["node"] = os.environ["SLURMD_NODENAME"]
    restarts = os.environ.get("SLURM_RESTART_COUNT")
    if restarts and restarts != "0":
        found["restart"] = int(restarts)
    return found
