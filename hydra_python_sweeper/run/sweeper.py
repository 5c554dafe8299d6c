"""The sweeper behind Hydra's interface: ``setup`` and ``sweep``, wired to the rooms that work.

``sweep`` checks the settings (:mod:`.settings`), admits this run into the sweep dir
(:mod:`journal.admission`, :mod:`cluster.liveness`), assembles the stream of batches
(:mod:`.pipeline`) and hands it to one run (:mod:`.loop`), or previews it (a dry run).
"""

import itertools
import logging
import os
import socket
from pathlib import Path
from typing import Any, List, Optional, Tuple

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from hydra_python_sweeper.cluster.detach import (
    driver_command,
    refuse_second_driver,
    say_detached,
    start_driver,
)
from hydra_python_sweeper.cluster.liveness import refuse_if_running
from hydra_python_sweeper.cluster.processes import marking
from hydra_python_sweeper.cluster.slurm import alive_tasks, is_slurm
from hydra_python_sweeper.journal import termination
from hydra_python_sweeper.journal.admission import (
    admit,
    check_journal,
    run_number,
    save_config,
    start_journal,
)
from hydra_python_sweeper.journal.fence import Fence
from hydra_python_sweeper.journal.lines import FILENAME, abandoned_line
from hydra_python_sweeper.journal.reader import JournalState, read_more
from hydra_python_sweeper.journal.writer import JournalCallback, append
from hydra_python_sweeper.messages import plural, resume_command
from hydra_python_sweeper.run.adaptive import Adaptive
from hydra_python_sweeper.run.adoption import Adoption, adopt
from hydra_python_sweeper.run.launch import BatchLauncher
from hydra_python_sweeper.run.loop import SweepRun
from hydra_python_sweeper.run.packing import PackedLauncher
from hydra_python_sweeper.run.pipeline import Stream, assemble, takes_results
from hydra_python_sweeper.run.preview import preview
from hydra_python_sweeper.run.settings import Settings, runs_jobs_in_this_process, written_list
from hydra_python_sweeper.run.summary import SweepSummary, say_empty
from hydra_python_sweeper.run.task import ExitIsFailure
from hydra_python_sweeper.run.validate import BatchValidator
from hydra_python_sweeper.space.results import Results

log = logging.getLogger(__name__)


class PythonSweeperImpl(Sweeper):
    def __init__(self, **given: Any) -> None:
        self.given = given  # hydra.sweeper's settings, checked when the sweep starts
        self.hydra_context: Optional[HydraContext] = None
        self.config: Optional[DictConfig] = None
        self.launcher: Optional[Launcher] = None
        self.adaptive: Optional[Adaptive] = None

    @property
    def results(self) -> Optional[Results]:
        """An adaptive sweep's results (``None`` for any other sweep)."""
        return self.adaptive.results if self.adaptive and self.adaptive.active else None

    def __repr__(self) -> str:
        entrypoints = written_list(self.given.get("entrypoints") or [])  # no secret resolved
        size = self.given.get("max_batch_size")
        filters = written_list(self.given.get("filters") or [])
        shown = f", filters={filters}" if filters else ""
        return f"PythonSweeper(max_batch_size={size}, entrypoints={entrypoints}{shown})"

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.hydra_context = hydra_context
        self.config = config
        # The lists as written in the config: Hydra 1.2 and 1.3 resolve the sweeper's settings
        # when they instantiate it, which would put an ${oc.env:TOKEN} in the logs and the
        # journal; their nodes here resolve only when the sweep needs the values.
        node = config.hydra.sweeper
        for key in ("entrypoints", "filters"):
            if key in node and OmegaConf.is_config(node[key]):
                self.given[key] = node[key]
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context,
            task_function=ExitIsFailure(task_function),  # sys.exit in a job: its failure
            config=config,
        )

    def stream(
        self, settings: Settings, arguments: List[str], journal: Optional[JournalState] = None
    ) -> Stream:
        """The sweep's batches, assembled (nothing drawn yet)."""
        assert self.adaptive is not None
        loader = self.hydra_context.config_loader if self.hydra_context else None
        parser = OverridesParser.create(config_loader=loader)
        return assemble(settings, arguments, parser, self.adaptive, journal)

    def sweep(self, arguments: List[str]) -> Any:
        try:
            return self.run_sweep(arguments)
        except KeyboardInterrupt:  # outside the launch loop, which says more itself
            assert self.config is not None
            sweep_dir = Path(self.config.hydra.sweep.dir)
            hint = ""
            if (sweep_dir / FILENAME).exists():
                hint = f" To resume the sweep: {resume_command(sweep_dir)}"
            log.warning(f"Interrupted before any batch was launched.{hint}")
            raise SystemExit(130) from None  # as a shell reports Ctrl-C; no traceback

    def run_sweep(self, arguments: List[str]) -> Any:
        assert self.config is not None
        settings = Settings.of(self.given, self.launcher)
        termination.SWEEPER_PID = os.getpid()  # its jobs here keep the sweeper's Ctrl-C
        log.info(f"{self!r} sweeping")
        if settings.sharded:
            first = settings.shard_index + 1
            log.info(
                f"{settings.shard_name()}: batches {first}, {first + settings.num_shards}, "
                f"{first + 2 * settings.num_shards}, ... of the sweep, "
                f"{plural(settings.batch_size or 0, 'job')} each"
            )
        sweep_dir = Path(self.config.hydra.sweep.dir)
        description = settings.description(arguments)
        resume = settings.resume is not None
        path = sweep_dir / FILENAME
        self.adaptive = adaptive = Adaptive(path, settings.dry_run)
        launcher = BatchLauncher(
            PackedLauncher(self.launcher, settings.jobs_per_task, sweep_dir)
            if settings.jobs_per_task > 1
            else self.launcher,
            sweep_dir, path, settings.poll_interval, settings.batch_size,
        )  # fmt: skip
        launcher.values = lambda: settings.keep_returns or adaptive.active
        if settings.dry_run:
            journal = (
                check_journal(sweep_dir, description, settings.cut(), True) if resume else None
            )
            stream = self.stream(settings, arguments, journal)
            return preview(settings, stream, str(sweep_dir), self.validator(settings, stream))

        if settings.detach:
            return self.detach(settings, arguments, sweep_dir, description)
        if not resume:  # bad input fails before any directory is made
            stream = self.stream(settings, arguments)
            if settings.sharded and stream.total == 0:  # known up front: no dir to make
                say_empty(settings)
                return [] if settings.keep_returns else SweepSummary(0, 0, str(sweep_dir))
        elif not path.exists():
            check_journal(sweep_dir, description, settings.cut(), True)  # says there is none
        with admit(sweep_dir, description, settings.cut(), resume, *_shard(settings)) as admitted:
            lock, journal, offset = admitted
            number = run_number(journal)
            log.info(f"Sweep output dir : {sweep_dir}")
            save_config(sweep_dir, self.config)
            cut = settings.cut()
            if not resume and not settings.sharded and stream.total is not None:
                cut["total"] = stream.total  # for the status of the sweep
            path = start_journal(sweep_dir, description, cut, journal, resume)
        adoption = None
        unmark = marking(sweep_dir)  # the processes it starts are the sweep's (cancel)
        try:
            if resume:
                assert journal is not None
                try:  # the jobs that may still run, once this run's line fences them
                    stream, adoption = self.resumed(
                        settings, arguments, journal, launcher, path, offset
                    )
                except BaseException:
                    append(path, abandoned_line(number))
                    raise
            self.record_jobs_in(
                path, Fence(str(sweep_dir.absolute()), settings.shard_index, number)
            )
            validator = self.validator(settings, stream)
            run = SweepRun(
                settings, launcher, stream, sweep_dir, path, journal,
                validator.check if validator else None, self.adaptive, number,
                self.hydra_logging if runs_jobs_in_this_process(self.launcher) else None,
                adoption,
            )  # fmt: skip
            return run.run()
        finally:
            unmark()
            if lock is not None:
                lock.close()

    def detach(
        self, settings: Settings, arguments: List[str], sweep_dir: Path, description: Any
    ) -> Any:
        """Check the sweep here as a run does before it launches (its first batch validated,
        the dir's journal and locks), then hand it to a driver of its own
        (:mod:`cluster.detach`)."""
        resume = settings.resume is not None
        journal = check_journal(sweep_dir, description, settings.cut(), True) if resume else None
        stream = self.stream(settings, arguments, journal)
        validator = self.validator(settings, stream)
        for start, batch in itertools.islice(stream.batches, 1):
            if validator is not None:
                validator.check(start, batch)
        slurm = is_slurm(self.launcher)
        with admit(sweep_dir, description, settings.cut(), resume, *_shard(settings)) as admitted:
            if admitted.lock is not None:
                admitted.lock.close()
            if slurm:  # a SLURM job of its own, submitted while no other start is admitted
                from hydra_python_sweeper.cluster.driver import submit_driver

                refuse_second_driver(sweep_dir)
                job = submit_driver(
                    sweep_dir, driver_command(sweep_dir), settings.driver, self.launcher
                )
        if slurm:
            say_detached(sweep_dir, f"as SLURM job {job}")
        else:  # it takes the dir's lock itself: this start waits until it holds it
            pid = start_driver(sweep_dir, settings.shard_index)
            say_detached(sweep_dir, f"as pid {pid} on {socket.gethostname()}")
        return [] if settings.keep_returns else SweepSummary(0, 0, str(sweep_dir))

    def hydra_logging(self) -> None:
        """Hydra's own logging, as its launchers set it before they launch: a job that ran in
        this process and was interrupted leaves the job's logging configured."""
        from hydra.core.utils import configure_log

        assert self.config is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)

    def validator(
        self, settings: Settings, stream: Optional[Stream] = None
    ) -> Optional[BatchValidator]:
        """What checks each batch's jobs before it is launched (``None``: nothing); the
        ``stream``'s origins name where a failing key came from."""
        if settings.validation is None:
            return None
        loader = self.hydra_context.config_loader if self.hydra_context else None
        assert self.config is not None
        validator = BatchValidator(settings.validation, loader, self.config)
        if stream is not None and stream.origins is not None:
            validator.origin = stream.origins.of
        return validator

    def resumed(
        self,
        settings: Settings,
        arguments: List[str],
        journal: JournalState,
        launcher: BatchLauncher,
        path: Path,
        offset: int,
    ) -> Tuple[Stream, Optional[Adoption]]:
        """A resume, its run line written (jobs of older runs that start from now stand
        down): the jobs that started since the journal was read (from byte ``offset``) are
        read too; the earlier run's jobs still running here or as SLURM tasks are adopted
        (:mod:`.adoption`); the resume is refused while a job may still run elsewhere
        (``path``: the journal). The stream of what is left to run, and the adoption."""
        read_more(path, journal, offset)
        assert self.adaptive is not None
        adoption = adopt(journal, path, settings, takes_results(settings), launcher.slurm)
        slurm = {task.job_id for task in alive_tasks(path.parent)} if launcher.slurm else None
        adopted = adoption.where if adoption is not None else {}
        refuse_if_running(journal, settings.resume == "force", slurm, adopted)
        stream = self.stream(settings, arguments, journal)
        if adoption is None:
            return stream, None
        return stream._replace(batches=adoption.set_aside(stream.batches)), adoption

    def record_jobs_in(self, path: Path, fence: Fence) -> None:
        """Have every job record how it ended in the journal at ``path``, from inside the job
        (:class:`JournalCallback`, run by the launcher with the sweep's callbacks); a job
        that starts once a newer run has begun stands down (``fence``)."""
        callbacks = getattr(self.hydra_context, "callbacks", None)
        if callbacks is not None:
            callbacks.callbacks.append(JournalCallback(str(path.absolute()), fence))


def _shard(settings: Settings) -> Tuple[int, int]:
    """The shard a run of ``settings`` takes: its index, and the number of shards."""
    return settings.shard_index, settings.num_shards
