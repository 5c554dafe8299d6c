"""A launcher that runs nothing: it measures the sweeper alone.

``hydra/launcher=noop`` records when it was first called (``NOOP_LAUNCHER_STATS``
names the JSON file it writes at exit) and returns completed ``JobReturn``s.
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

_stats = {"first_launch": None, "jobs": 0, "batches": 0, "last_job": None}


def _write_stats() -> None:
    path = os.environ.get("NOOP_LAUNCHER_STATS")
    if path:
        _stats["end"] = time.time()
        _stats["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with open(path, "w") as f:
            json.dump(_stats, f)


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
        _stats["jobs"] += len(job_overrides)  # type: ignore[operator]
        _stats["batches"] += 1  # type: ignore[operator]
        if job_overrides:
            _stats["last_job"] = list(job_overrides[-1])
        returns: List[Any] = [
            JobReturn(overrides=list(o), status=JobStatus.COMPLETED, _return_value=None)
            for o in job_overrides
        ]
        return returns
