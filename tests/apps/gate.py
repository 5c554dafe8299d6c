"""A Hydra callback that holds each job at its start until the test opens the gate.

It runs before the sweeper's own journal callback (Hydra calls ``on_job_start`` in order, and
the sweeper appends its callback last), so a job held here has written nothing yet: it is in
the window between its launch and its first journal line. Each job leaves a file saying it
waits (``waiting-<job>-<pid>``) and, once its task has run or stood down, that it ended
(``ended-<job>-<pid>``).
"""

import os
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class Gate(Callback):
    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        (sweep_dir / f"waiting-{config.hydra.job.num}-{os.getpid()}").touch()
        while not (sweep_dir / "open").exists():
            time.sleep(0.02)

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        (sweep_dir / f"ended-{config.hydra.job.num}-{os.getpid()}").touch()
