"""Jobs packed into tasks: a batch's jobs run by a few SLURM (or submitit local) tasks, each
task running whole Hydra jobs one after the other in one process, taking the next job of
its batch as soon as it is free (as disBatch and HyperQueue do), so that no task idles while
another still has jobs waiting.

A packed batch is two files in ``<sweep dir>/.packs/``: its jobs, written once as JSON lines
(:func:`write_pack`), and a counter of the jobs taken (:func:`take`, under a ``flock``). The
tasks need nothing else: a task that is requeued (preemption, its time limit) takes up where
the batch is; a job taken by a task that died before its end line is left to the sweeper,
which finds it without an end and handles it as any lost job (``retries``, a resume)::

    >>> import tempfile
    >>> pack = write_pack(Path(tempfile.mkdtemp()), "a1", [(7, ["x=1"]), (8, ["x=2"])])
    >>> [take(pack), take(pack), take(pack)]
    [0, 1, None]
    >>> read_pack(pack)
    [(7, ['x=1']), (8, ['x=2'])]
"""

import json
import logging
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

log = logging.getLogger(__name__)

#: The folder of the packed batches' files, in the sweep dir.
PACKS = ".packs"


def write_pack(sweep_dir: Path, launch: str, jobs: Sequence[Tuple[int, Sequence[str]]]) -> Path:
    """Write a batch's jobs (number, overrides) for its tasks; the pack's path (its counter
    beside it, ``<path>.taken``)."""
    folder = sweep_dir / PACKS
    folder.mkdir(exist_ok=True)
    path = folder / f"{launch}.jobs"
    text = "".join(json.dumps([number, list(job)]) + "\n" for number, job in jobs)
    path.write_text(text)
    Path(f"{path}.taken").write_bytes(b"0 %d" % len(jobs))  # taken, of how many
    return path


def read_pack(path: Path) -> List[Tuple[int, List[str]]]:
    """A packed batch's jobs, in order."""
    return [tuple(json.loads(line)) for line in path.read_text().splitlines()]


def take(path: Path) -> Optional[int]:
    """The index of the next job of the pack at ``path`` that no task has taken, now taken
    (``None``: none is left). Tasks on any node take turns on the counter's lock."""
    import fcntl

    fd = os.open(f"{path}.taken", os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX)  # POSIX locks: the ones network file systems share
        taken, total = map(int, os.pread(fd, 64, 0).split())
        if taken >= total:
            return None
        os.pwrite(fd, b"%d %d" % (taken + 1, total), 0)
        os.fsync(fd)
        return taken
    finally:
        os.close(fd)  # and the lock with it


def remove_pack(path: Path) -> None:
    """A packed batch's files, once its tasks have ended."""
    for name in (path, Path(f"{path}.taken")):
        try:
            name.unlink()
        except FileNotFoundError:
            pass


class PackedTask:
    """What each task of a packed batch runs: it takes the batch's jobs one at a time and
    runs each as a whole Hydra job, as hydra-submitit-launcher's task runs its one job (its
    config composed for its overrides, its output dir, ``.hydra`` files, log and callbacks:
    the journal's lines among them). A job that fails, or calls ``sys.exit``, ends only
    itself. Hydra's state travels once per task, not once per job.

    ``launcher``: the submitit launcher, set up by Hydra (its config, context and task)."""

    def __init__(self, launcher: Any, pack: str, singleton_state: Dict[Any, Any]) -> None:
        self.launcher = launcher
        self.pack = pack
        self.singleton_state = singleton_state

    def __call__(self, slot: int = 0) -> int:
        """Run jobs until the batch has none left; how many this task ran (``slot``: the
        task's index in its array)."""
        import submitit
        from hydra.core.singleton import Singleton
        from hydra.core.utils import run_job, setup_globals
        from omegaconf import open_dict

        launcher = self.launcher
        Singleton.set_state(self.singleton_state)
        setup_globals()
        jobs = read_pack(Path(self.pack))
        job_id = submitit.JobEnvironment().job_id
        ran = 0
        while True:
            index = take(Path(self.pack))
            if index is None:
                return ran
            number, overrides = jobs[index]
            try:
                config = launcher.hydra_context.config_loader.load_sweep_config(
                    launcher.config, list(overrides)
                )
                with open_dict(config):
                    config.hydra.job.id = job_id
                    config.hydra.job.num = number
                run_job(
                    hydra_context=launcher.hydra_context,
                    task_function=launcher.task_function,
                    config=config,
                    job_dir_key="hydra.sweep.dir",
                    job_subdir_key="hydra.sweep.subdir",
                )
            except Exception as error:  # it wrote no end: the sweeper counts it as lost
                log.error(f"job #{number} could not run in its task: {error!r}")
            ran += 1

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """Preempted, or at its time limit: submitted again, it takes up where the batch is
        (the job it was running wrote no end: the sweeper handles it as lost)."""
        import submitit

        return submitit.helpers.DelayedSubmission(self)
