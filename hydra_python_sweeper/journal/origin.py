"""Where a journal line's process runs: what its *started* line records so that a later
reader can tell whether that process is still the job (SLURM's ids for the job, this host's
process identity).

    >>> sorted(job_environment()) in ([], ["node", "slurm"], ["slurm"])
    True
"""

from typing import Any, Dict


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
    import os

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
