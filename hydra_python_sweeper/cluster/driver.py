"""A detached sweep's driver on SLURM: a small job of its own that outlives its time limit.

With a SLURM launcher, ``hydra.sweeper.detach=true`` submits the driver (the sweep's own
command, attached, :func:`.detach.driver_command`) as a one-CPU SLURM job, with submitit;
its options under ``hydra.sweeper.driver`` (``partition``, ``timeout_min``, ``mem_gb``,
``cpus_per_task``, ``signal_delay_s``, ``additional_parameters``), the partition the
launcher's by default.

- The sweep's command runs without the driver's own allocation in its environment (the
  ``SLURM_*`` and ``SBATCH_*`` variables ``sbatch`` would read), so that the arrays it submits
  are the sweep's own.
- Before its time limit (submitit's checkpoint signal, ``signal_delay_s`` before it: 120 s
  by default) or when preempted, the driver stops the sweep (its arrays run on) and is
  requeued; a driver that starts again, or that SLURM requeued, runs the sweep as a resume:
  it adopts the tasks still running (their jobs' ends reach the journal from the jobs),
  cancels those still queued, and launches what is left (:mod:`run.adoption`).
- It carries the sweep's tag in its comment (:func:`.slurm.driver_comment`): ``status`` and
  ``cancel`` know it by that, from SLURM. Its job id is also written to
  ``<sweep dir>/driver.slurm``, which says only that the sweep was detached on SLURM.

    >>> clean_environment({"SLURM_JOB_ID": "7", "SBATCH_PARTITION": "gpu", "HOME": "/h"})
    {'HOME': '/h'}
"""

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from hydra_python_sweeper.cluster.processes import pid_alive
from hydra_python_sweeper.cluster.slurm import driver_comment
from hydra_python_sweeper.journal.lines import FILENAME

#: Where the driver's SLURM job id is kept, in the sweep dir.
DRIVER_JOB = "driver.slurm"
_DEFAULTS = {"timeout_min": 10080, "mem_gb": 1, "cpus_per_task": 1}


def clean_environment(environment: Mapping[str, str]) -> Dict[str, str]:
    """``environment`` without the variables of the driver's own SLURM allocation."""
    return {k: v for k, v in environment.items() if not k.startswith(("SLURM_", "SBATCH_"))}


class Driver:
    """The job submitit runs: the sweep's command, attached, in this job; requeued by
    :meth:`checkpoint` before its time limit or when preempted."""

    def __init__(self, command: List[str], sweep_dir: str) -> None:
        self.command = command
        self.sweep_dir = sweep_dir
        self.process: Optional[subprocess.Popen[bytes]] = None

    def __call__(self) -> int:
        command = list(self.command)
        if (Path(self.sweep_dir) / FILENAME).exists():  # started before: it carries on
            command = [a for a in command if not a.startswith("hydra.sweeper.resume=")]
            command.append("hydra.sweeper.resume=true")
        with open(Path(self.sweep_dir) / "driver.log", "ab") as log:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=clean_environment(os.environ),
                # SLURM's signal before the time limit reaches every process of the job:
                # the sweep leaves it to this one, which stops it with a SIGTERM
                preexec_fn=_ignore_checkpoint_signal,
            )
            code = self.process.wait()
        if code != 0:
            raise RuntimeError(f"the sweep ended with exit code {code}: see driver.log")
        return code

    def checkpoint(self) -> Any:
        """Submitit's signal before the time limit, or preemption: stop the sweep (its
        arrays run on; the next driver waits for them) and be submitted again."""
        import submitit

        if self.process is not None:
            # not Popen.wait(): this handler interrupts __call__'s wait, which holds its lock
            self.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 60
            while pid_alive(self.process.pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if pid_alive(self.process.pid):
                self.process.kill()
        return submitit.helpers.DelayedSubmission(Driver(self.command, self.sweep_dir))


def _ignore_checkpoint_signal() -> None:
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)


def submit_driver(
    sweep_dir: Path, command: List[str], options: Mapping[str, Any], launcher: Any
) -> str:
    """Submit the sweep's driver to SLURM; its job id."""
    import submitit

    given = dict(options or {})
    partition = given.pop("partition", None) or _launcher_option(launcher, "partition")
    additional = dict(given.pop("additional_parameters", None) or {})
    delay = given.pop("signal_delay_s", 120)
    parameters = {**_DEFAULTS, **given}
    executor = submitit.AutoExecutor(folder=str(sweep_dir / ".driver"), cluster="slurm")
    executor.update_parameters(
        name="hydra-sweep-driver",
        slurm_partition=partition,
        slurm_additional_parameters=additional,
        slurm_signal_delay_s=delay,
        slurm_comment=driver_comment(sweep_dir),
        **parameters,
    )
    job = executor.submit(Driver(command, str(sweep_dir.absolute())))
    (sweep_dir / DRIVER_JOB).write_text(f"{job.job_id}\n")
    return str(job.job_id)


def _launcher_option(launcher: Any, key: str) -> Any:
    config = getattr(launcher, "params", None) or {}
    return config.get(key) if hasattr(config, "get") else None
