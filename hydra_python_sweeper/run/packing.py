"""Batches launched packed (``hydra.sweeper.jobs_per_task``): a batch of N jobs becomes one
array of ``ceil(N / jobs_per_task)`` tasks, each running the batch's jobs as they come free
(:mod:`cluster.packs`), instead of one task a job.

:class:`PackedLauncher` stands in for hydra-submitit-launcher's launcher (``submitit_slurm``
or ``submitit_local``) with the user's settings for it (partition, time, GPUs, ``setup``,
``additional_parameters``: each task gets them). The launch path stays lean: the batch's
jobs travel as one file, Hydra's launcher and state as another (pickled once a batch, read by
each of its tasks), and the jobs' results come back through
their end lines in the journal (:meth:`.launch.BatchLauncher.settle`), not one pickled
``JobReturn`` a job::

    >>> tasks_for(10, 4), tasks_for(8, 4), tasks_for(3, 100)
    (3, 2, 1)
"""

import logging
import os
import uuid
from pathlib import Path
from typing import Any, Dict, List, Sequence

from hydra_python_sweeper.cluster.packs import pack_path, remove_pack, write_pack, write_state
from hydra_python_sweeper.run.packed_task import PackedTask

log = logging.getLogger(__name__)

#: The executors of hydra-submitit-launcher, which packing drives.
EXECUTORS = ("slurm", "local")


def tasks_for(jobs: int, jobs_per_task: int) -> int:
    """How many tasks run a batch of ``jobs`` jobs packed ``jobs_per_task`` a task."""
    return -(-jobs // jobs_per_task)


def tidy(paths: Any, keep_logs: bool) -> None:
    """The files submitit wrote for a packed task that has ended (``paths``: its
    ``JobPaths``): its pickles always (what each job did is in the journal), its stdout and
    stderr unless ``keep_logs`` (a job of the task failed, or the task itself), its folder
    once empty. So a sweep's files grow with its tasks that failed, not with its jobs."""
    names = [paths.submitted_pickle, paths.result_pickle]
    if not keep_logs:
        names += [paths.stdout, paths.stderr]
    for name in names:
        try:
            os.unlink(name)
        except FileNotFoundError:
            pass
    try:
        os.rmdir(paths.folder)  # a task's own folder (submitit's %j), once empty
    except OSError:
        pass


class PackedLauncher:
    """``launcher`` (hydra-submitit-launcher's, set up by Hydra), its batches run packed,
    ``jobs_per_task`` jobs a task, in ``sweep_dir``. :meth:`launch` returns once every task
    of the batch has ended; what each job did is in the journal."""

    def __init__(self, launcher: Any, jobs_per_task: int, sweep_dir: Path) -> None:
        self.launcher = launcher
        self._EXECUTOR = launcher._EXECUTOR
        self.params: Dict[str, Any] = dict(launcher.params)
        self.jobs_per_task = jobs_per_task
        self.sweep_dir = sweep_dir

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> List[Any]:
        import cloudpickle  # submitit's: a task function defined in the user's script travels
        from hydra.core.singleton import Singleton

        count = len(job_overrides)
        tasks = tasks_for(count, self.jobs_per_task)
        numbered = list(enumerate(job_overrides, initial_job_idx))
        pack = pack_path(self.sweep_dir, f"{initial_job_idx}-{uuid.uuid4().hex[:8]}")
        executor = self.executor()
        last = initial_job_idx + count - 1
        log.info(
            f"Submitit '{self._EXECUTOR}' packed: jobs #{initial_job_idx} to #{last} in "
            f"{tasks} tasks of up to {self.jobs_per_task} jobs"
        )
        try:  # a Ctrl-C from the pack's first byte on leaves no file of it
            write_pack(pack, numbered)
            # once a batch, not once a task: a task's submission is the pack's path alone
            write_state(pack, cloudpickle.dumps((self.launcher, Singleton.get_state())))
            jobs = executor.map_array(PackedTask(str(pack)), range(tasks))
            failure = None
            for job in jobs:
                try:
                    failed = sum(f for _, f in job.results())  # each slot's (ran, failed)
                except Exception as error:  # a task lost: its jobs without an end are
                    failure = failure or error  # settled from the journal
                    tidy(job.paths, keep_logs=True)
                else:
                    tidy(job.paths, keep_logs=failed > 0)
            if failure is not None:
                raise failure
        finally:
            remove_pack(pack)
        return []

    def executor(self) -> Any:
        """The submitit executor hydra-submitit-launcher would build from these settings."""
        import submitit
        from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
        from omegaconf import OmegaConf

        params = self.params
        init_keys = {"max_num_timeout"}
        init = {"folder": params["submitit_folder"]}
        init.update({f"{self._EXECUTOR}_{k}": v for k, v in params.items() if k in init_keys})
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, **init)
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(
            **{
                k if k in base else f"{self._EXECUTOR}_{k}": v
                for k, v in params.items()
                if k not in init_keys | {"submitit_folder"}
            }
        )
        return executor
