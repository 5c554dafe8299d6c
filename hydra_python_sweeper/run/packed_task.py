"""What each task of a packed batch runs on its node: the batch's jobs, one at a time, each a
whole Hydra job.

A task takes the next job of its batch as soon as it is free (:func:`.cluster.packs.take`),
composes its config and runs it with Hydra's ``run_job`` (:mod:`.lean_job`: the same, less
its copies of Hydra's node), as hydra-submitit-launcher's task runs its one job: the job's
own config, output dir, ``.hydra`` files, log and callbacks (the journal's lines among
them). A job that fails, or calls ``sys.exit``, ends only itself. Hydra's state travels once
a batch, not once a job or a task; the jobs' configs are composed once per shape
(:class:`.compose.Composer`), each the same as Hydra's own composition.
"""

import logging
import pickle
from pathlib import Path
from typing import Any, Tuple

from hydra_python_sweeper.cluster.packs import read_pack, read_state, take
from hydra_python_sweeper.run.compose import Composer
from hydra_python_sweeper.run.lean_job import runner
from hydra_python_sweeper.run.task import CHECKPOINTED

log = logging.getLogger(__name__)


def numbered(config: Any, number: int, job_id: str) -> Any:
    """``config`` as hydra-submitit-launcher hands it to ``run_job``: the job's number and
    its task's id set.

    >>> from omegaconf import OmegaConf
    >>> config = OmegaConf.create({"hydra": {"job": {}}}); OmegaConf.set_struct(config, True)
    >>> numbered(config, 7, "123_4").hydra.job
    {'id': '123_4', 'num': 7}
    """
    from omegaconf import open_dict

    with open_dict(config):
        config.hydra.job.id = job_id
        config.hydra.job.num = number
    return config


class PackedTask:
    """The task of a packed batch whose jobs are in ``pack``, beside what it runs them with
    (:func:`.cluster.packs.read_state`): the submitit launcher, set up by Hydra (its config,
    context and task function), and Hydra's state in the sweeper."""

    def __init__(self, pack: str) -> None:
        self.pack = pack

    def __call__(self, slot: int = 0) -> Tuple[int, int]:
        """Run jobs until the batch has none left; how many this task ran, and how many of
        them failed (``slot``: the task's index in its array)."""
        import submitit
        from hydra.core.singleton import Singleton
        from hydra.core.utils import JobStatus, setup_globals

        launcher, singleton_state = pickle.loads(read_state(Path(self.pack)))
        Singleton.set_state(singleton_state)
        setup_globals()
        composer = Composer(launcher.hydra_context.config_loader, launcher.config)
        jobs = read_pack(Path(self.pack))
        job_id = submitit.JobEnvironment().job_id
        run_job = runner()
        ran = failed = 0
        while True:
            index = take(Path(self.pack))
            if index is None:
                return ran, failed
            number, overrides = jobs[index]
            ran += 1
            try:
                config = numbered(composer.compose(overrides), number, job_id)
                done = run_job(
                    hydra_context=launcher.hydra_context,
                    task_function=launcher.task_function,
                    config=config,
                    job_dir_key="hydra.sweep.dir",
                    job_subdir_key="hydra.sweep.subdir",
                )
            except Exception as error:  # it wrote no end: the sweeper counts it as lost
                log.error(f"job #{number} could not run in its task: {error!r}")
                failed += 1
            else:
                if done.status == JobStatus.FAILED:
                    log.error(f"job #{number} failed: {done._return_value!r}")
                    failed += 1

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """Preempted, or at its time limit: submitted again, it takes up where the batch is
        (the job it was running writes no end: the sweeper handles it as lost)."""
        import submitit

        CHECKPOINTED.set()  # submitit's exit, next, is the task's, not its job's
        return submitit.helpers.DelayedSubmission(self)
