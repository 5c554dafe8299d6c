"""A launcher that runs nothing: it measures the sweeper alone.

``hydra/launcher=noop`` records when it was first called (``NOOP_LAUNCHER_STATS``
names the JSON file it writes at exit) and returns completed ``JobReturn``s. With
``NOOP_LAUNCHER_JOURNAL`` set, it also writes the journal lines the jobs would have written,
and reports the CPU time that took (``jobs_cpu_s``): in a real sweep the jobs spend it, each
in its own process, so the benchmarks count it apart from the sweeper's.
"""

import atexit
import json
import os
import resource
import time
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


@dataclass
class NoopLauncherConf:
    _target_: str = "hydra_plugins.noop_launcher.noop_launcher.NoopLauncher"


ConfigStore.instance().store(group="hydra/launcher", name="noop", node=NoopLauncherConf)

_stats = {"first_launch": None, "jobs": 0, "batches": 0, "last_job": None, "jobs_cpu_s": 0.0}


def _write_stats() -> None:
    path = os.environ.get("NOOP_LAUNCHER_STATS")
    if path:
        _stats["end"] = time.time()
        _stats["maxrss_kib"] = _peak_rss_kib()
        with open(path, "w") as f:
            json.dump(_stats, f)


def _peak_rss_kib() -> int:
    """This process's peak RSS: ``VmHWM``, which starts anew at exec. (On Linux, ``ru_maxrss``
    does not: a child started by a large parent reports the parent's size.)"""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


atexit.register(_write_stats)


class NoopLauncher(Launcher):
    def __init__(self) -> None:
        self.config: Optional[DictConfig] = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        if _stats["first_launch"] is None:
            _stats["first_launch"] = time.time()
            _stats["maxrss_kib_at_first_launch"] = _peak_rss_kib()
        _stats["jobs"] += len(job_overrides)  # type: ignore[operator]
        _stats["batches"] += 1  # type: ignore[operator]
        if job_overrides:
            _stats["last_job"] = list(job_overrides[-1])
        returns: List[Any] = [
            JobReturn(overrides=list(o), status=JobStatus.COMPLETED, _return_value=None)
            for o in job_overrides
        ]
        if os.environ.get("NOOP_LAUNCHER_JOURNAL"):
            tic = time.process_time()
            self.journal_as_jobs_would(job_overrides, initial_job_idx, returns)
            _stats["jobs_cpu_s"] += time.process_time() - tic  # type: ignore[operator]
        return returns

    def journal_as_jobs_would(
        self, job_overrides: Sequence[Sequence[str]], start: int, returns: List[Any]
    ) -> None:
        """Append the end line each job of the batch would have written into the sweep's
        journal (PythonSweeper's), in one write, and mark the returns as the jobs' callback
        would: without them the sweeper would find every job's end missing and write it
        itself, which real jobs spare it."""
        assert self.config is not None
        path = os.path.join(str(self.config.hydra.sweep.dir), "journal.jsonl")
        if not os.path.exists(path):
            return  # not a PythonSweeper sweep
        from hydra_python_sweeper.journal.lines import JOURNALED
        from hydra_python_sweeper.space.stages import job_digests

        # The bytes json.dumps(job_line(number, job, True, None, "")) writes, made cheaply:
        # the lines are the jobs', and their cost should not crowd the sweeper's process.
        lines = "".join(
            f'{{"job": {number}, "status": "completed", "digest": "{digest.hex()}", '
            f'"overrides": {json.dumps(list(job))}, "return": null, "dir": ""}}\n'
            for number, job, digest in zip(
                range(start, start + len(job_overrides)), job_overrides, job_digests(job_overrides)
            )
        )
        with open(path, "a") as journal:
            journal.write(lines)
        for job_return in returns:
            setattr(job_return, JOURNALED, True)
