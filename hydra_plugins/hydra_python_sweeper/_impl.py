"""The sweeper: builds the job pipeline of :mod:`._stages` and launches its batches."""

import contextlib
import logging
import operator
import shlex
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from ._errors import JobError, JobsFailed, PythonSweeperError, SettingError, SweepDirError
from ._flight import Flight
from ._format import Formatter
from ._journal import (
    FILENAME,
    JournalCallback,
    JournalError,
    JournalState,
    JournalWatch,
    ResumeError,
    append,
    check_journal,
    finish_journal,
    job_line,
    read_replay,
    resume_batches,
    running_elsewhere,
    start_journal,
    take_lock,
)
from ._results import Result, Results
from ._sources import (
    Generated,
    command_line_factors,
    entrypoint_factors,
    filters,
    is_adaptive,
    plain,
    total_jobs,
)
from ._stages import (
    Dropped,
    UniqueJobs,
    batched,
    filter_jobs,
    format_batches,
    lazy_product,
    merge_jobs,
    merged_product,
    number_batches,
    paced,
    select_shard,
)
from ._task import ExitIsFailure
from ._validate import ShapeValidator, error_chain, validation_level

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepSummary:
    """What a sweep returns with ``keep_returns=false``."""

    jobs: int
    batches: int
    sweep_dir: str


def batch_size(value: Any) -> Optional[int]:
    """``max_batch_size`` checked: a positive int, or ``None`` (``null``/``-1``) for one batch.

    >>> batch_size(None), batch_size(-1), batch_size(1000)
    (None, None, 1000)
    """
    if value is None or value == -1:
        return None
    if not _is_int(value) or value <= 0:
        raise SettingError(
            f"hydra.sweeper.max_batch_size={value!r}: expected a positive integer, "
            "or null or -1 for a single batch"
        )
    return int(value)


def plural(count: int, noun: str) -> str:
    """``count`` and ``noun``, in the plural unless ``count`` is one.

    >>> plural(1, "job"), plural(2, "batch")
    ('1 job', '2 batches')
    """
    if count == 1:
        return f"1 {noun}"
    return f"{count} {noun}{'es' if noun.endswith('ch') else 's'}"


def shard_jobs(total: int, size: int, index: int, count: int) -> int:
    """How many of ``total`` jobs, in batches of ``size`` dealt round-robin, shard ``index`` gets.

    >>> [shard_jobs(10, 3, i, 2) for i in range(2)]  # batches 3 3 3 1: shard 0 gets 3+3
    [6, 4]
    """
    batches = -(-total // size)
    return sum(min(size, total - k * size) for k in range(index, batches, count))


class Stream(NamedTuple):
    """The sweep's numbered batches, how many jobs they hold when that is known, and the
    counts of jobs the filters and ``remove_duplicates`` dropped (they grow as it runs)."""

    batches: Iterator[Tuple[int, Sequence[Sequence[str]]]]
    total: Optional[int]
    filtered: Optional[Dropped] = None
    duplicates: Optional[Dropped] = None

    def dropped(self) -> str:
        """What the filters and ``remove_duplicates`` dropped so far, for the logs.

        >>> stream = Stream(iter(()), None, Dropped(), None)
        >>> stream.filtered.count = 3
        >>> stream.dropped()
        ', 3 dropped by filters'
        """
        text = ""
        if self.filtered is not None:
            text += f", {self.filtered.count} dropped by filters"
        if self.duplicates is not None:
            text += f", {plural(self.duplicates.count, 'duplicate')} removed"
        return text


class PythonSweeperImpl(Sweeper):
    def __init__(
        self,
        max_batch_size: Optional[int] = None,
        entrypoints: Optional[Sequence[Any]] = None,
        remove_duplicates: bool = False,
        params: Optional[Dict[str, str]] = None,
        validate: Any = True,
        keep_returns: bool = True,
        filters: Optional[Sequence[str]] = None,
        dry_run: bool = False,
        preview: int = 10,
        shard_index: int = 0,
        num_shards: int = 1,
        resume: Any = False,
        fail_fast: bool = True,
        max_in_flight: int = 1,
    ) -> None:
        self.max_batch_size = max_batch_size
        self.entrypoints = list(entrypoints or [])
        self.remove_duplicates = remove_duplicates
        self.params = dict(params or {})
        self.validate = validate
        self.keep_returns = keep_returns
        self.filters = list(filters or [])
        self.dry_run = dry_run
        self.preview = preview
        self.shard_index = shard_index
        self.num_shards = num_shards
        self.resume = resume
        self.fail_fast = fail_fast
        self.max_in_flight = max_in_flight
        self.hydra_context: Optional[HydraContext] = None
        self.config: Optional[DictConfig] = None
        self.launcher: Optional[Launcher] = None
        self.validation: Optional[str] = None
        self.resume_mode: Optional[str] = None
        self.results: Optional[Results] = None  # an adaptive sweep's results
        self.journal_file: Optional[Path] = None
        self.validator: Optional[ShapeValidator] = None
        self.parser: Optional[OverridesParser] = None  # for adaptive sweeps' job dicts

    def __repr__(self) -> str:
        entrypoints = _written_list(self.entrypoints)  # as written: no secret resolved
        return f"PythonSweeper(max_batch_size={self.max_batch_size}, entrypoints={entrypoints})"

    def setup(
        self,
        *,
        hydra_context: HydraContext,
        task_function: TaskFunction,
        config: DictConfig,
    ) -> None:
        self.hydra_context = hydra_context
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context,
            task_function=ExitIsFailure(task_function),  # sys.exit in a job: its failure
            config=config,
        )

    def check_settings(self) -> Optional[int]:
        """Check the settings that need no job; return the batch size (``None``: one batch)."""
        size = batch_size(self.max_batch_size)
        if not _is_int(self.num_shards) or self.num_shards < 1:
            raise SettingError(
                f"hydra.sweeper.num_shards={self.num_shards!r}: expected a positive integer"
            )
        if not _is_int(self.shard_index) or not 0 <= self.shard_index < self.num_shards:
            raise SettingError(
                f"hydra.sweeper.shard_index={self.shard_index!r}: expected an integer from 0 "
                f"to num_shards - 1 = {self.num_shards - 1}"
            )
        if self.num_shards > 1 and size is None:
            raise SettingError(
                "hydra.sweeper.num_shards > 1 needs hydra.sweeper.max_batch_size: shards are "
                "dealt whole batches, so every process must cut the stream the same way"
            )
        self.validation = validation_level(self.validate)
        self.resume_mode = resume_mode(self.resume)
        if not _is_int(self.max_in_flight) or self.max_in_flight < 1:
            raise SettingError(
                f"hydra.sweeper.max_in_flight={self.max_in_flight!r}: expected an integer >= 1"
            )
        if self.max_in_flight > 1 and _runs_jobs_in_this_process(self.launcher):
            raise SettingError(
                f"hydra.sweeper.max_in_flight={self.max_in_flight} needs a launcher that runs "
                f"jobs in other processes (submitit, joblib, ray): {type(self.launcher).__name__}"
                " runs them in this process, one at a time, so its launches cannot overlap"
            )
        if not _is_int(self.preview) or self.preview < 0:
            raise SettingError(f"hydra.sweeper.preview={self.preview!r}: expected an integer >= 0")
        return size

    def stream(
        self,
        arguments: List[str],
        size: Optional[int] = None,
        journal: Optional[JournalState] = None,
    ) -> Stream:
        """The pipeline of :mod:`._stages` for this sweep, not yet started.

        Everything that can be checked without generating jobs is checked here,
        when this is called, not when the first job is drawn.
        """
        loader = self.hydra_context.config_loader if self.hydra_context else None
        parser = OverridesParser.create(config_loader=loader)
        formatter = Formatter()  # this sweep's: its caches go with it
        given = [f"{key}={value}" for key, value in self.params.items()] + list(arguments)
        factors = command_line_factors(parser.parse_overrides(given), formatter)
        results = Results()
        entries = _resolved_list(self.entrypoints, "entrypoints")
        entrypoints = entrypoint_factors(entries, formatter, results)
        self.results = self.check_adaptive(factors, entrypoints, results)
        # The command line is one source: each of its overrides reaches the job, as with
        # BasicSweeper; each entrypoint is a source of its own, the earlier winning a key.
        sources = (0,) * len(factors) + tuple(range(1, len(entrypoints) + 1))
        factors += entrypoints
        predicates = filters(_resolved_list(self.filters, "filters"))

        filtered = duplicates = None
        keep = None
        if self.remove_duplicates:
            duplicates = Dropped()
            keep = UniqueJobs(dropped=duplicates)
        chunks: Iterator[Any]
        if len(factors) == 1 and not predicates and isinstance(factors[0], Generated):
            # one generator and nothing else: drawn and written a chunk at a time
            only = factors[0]
            chunks = format_batches(only.jobs(), size, only.name, formatter, keep)
        elif predicates:
            filtered = Dropped()
            combinations = filter_jobs(lazy_product(*factors), predicates, sources, filtered)
            chunks = batched(merge_jobs(combinations, sources), size, keep)
        else:
            chunks = batched(merged_product(factors, sources), size, keep)
        if self.results is not None:
            if journal is not None and self.journal_file is not None:
                self.results.replay(*read_replay(self.journal_file, self.job_dict))
            chunks = paced(chunks, self.drawing)
        batches = number_batches(chunks)

        total = None if predicates or self.remove_duplicates else total_jobs(factors)
        if journal is not None:
            batches = resume_batches(batches, journal, size)
            total = None
        if self.num_shards > 1:
            assert size is not None
            batches = select_shard(batches, self.shard_index, self.num_shards, size)
            if total is not None:
                total = shard_jobs(total, size, self.shard_index, self.num_shards)
        return Stream(batches, total, filtered, duplicates)

    def check_adaptive(
        self, command_line: Sequence[Any], entrypoints: Sequence[Any], results: Results
    ) -> Optional[Results]:
        """``results`` if an entrypoint takes them (an adaptive sweep), after checking that
        it can: it must be the outermost factor, called once, and the sweep unsharded."""
        adaptive = [index for index, factor in enumerate(entrypoints) if is_adaptive(factor)]
        if not adaptive:
            return None
        name = entrypoints[adaptive[0]].name
        if adaptive != [0]:
            raise SettingError(
                f"{name} takes results, so it must be the first entrypoint (the outermost): "
                "an inner one is called again for each outer job, and could not follow them"
            )
        swept = [len(factor) for factor in command_line if len(factor) != 1]
        if swept:
            raise SettingError(
                f"{name} takes results, so the command line cannot sweep (it is the outer "
                "factor: the entrypoint would be called again for each of its values); give "
                "those values to the entrypoint instead"
            )
        if self.num_shards > 1:
            raise SettingError(
                f"{name} takes results: an adaptive sweep cannot be sharded (each shard would "
                "see only its own results)"
            )
        return results

    def drawing(self, k: int) -> None:
        """Batch ``k`` of an adaptive sweep is about to be drawn: set what its generator
        sees, and record it in the journal (unless replaying it)."""
        assert self.results is not None
        seen = self.results.drawing(k)
        if not self.results.replaying and self.journal_file is not None and not self.dry_run:
            append(self.journal_file, {"drawn": k, "seen": seen})

    def job_dict(self, overrides: Sequence[str]) -> Dict[str, Any]:
        """A job's override strings back as the dict of its keys and values."""
        if self.parser is None:
            self.parser = OverridesParser.create()
        parsed = self.parser.parse_overrides(list(overrides))
        return {o.get_key_element(): plain(o.value()) for o in parsed}

    def learn(self, path: Path, start: int, returns: Sequence[JobReturn]) -> None:
        """A batch of an adaptive sweep returned: its results are seen from the next draw."""
        assert self.results is not None
        for number, job_return in enumerate(returns, start):
            completed = job_return.status == JobStatus.COMPLETED
            self.results.learn(
                Result(
                    number,
                    self.job_dict(job_return.overrides or []),
                    "completed" if completed else "failed",
                    job_return._return_value,
                )
            )
        append(path, {"learnt": list(range(start, start + len(returns)))})

    def description(self, arguments: List[str]) -> Dict[str, Any]:
        """What defines this sweep's job stream, for the journal's fingerprint: settings as
        written (an ``${oc.env:TOKEN}`` stays unresolved), not the plugin's version."""
        return {
            "entrypoints": _written_list(self.entrypoints),
            "arguments": list(arguments),
            "params": self.params,
            "remove_duplicates": self.remove_duplicates,
            "filters": _written_list(self.filters),
        }

    def sweep(self, arguments: List[str]) -> Any:
        assert self.config is not None
        size = self.check_settings()
        log.info(f"{self!r} sweeping")
        if self.num_shards > 1:
            first = self.shard_index + 1
            log.info(
                f"{self.shard_name()}: batches {first}, {first + self.num_shards}, "
                f"{first + 2 * self.num_shards}, ... of the sweep, {plural(size or 0, 'job')} each"
            )
        sweep_dir = Path(self.config.hydra.sweep.dir)
        description = self.description(arguments)
        settings = {
            "max_batch_size": size,
            "num_shards": self.num_shards,
            "shard_index": self.shard_index,
        }
        resume = self.resume_mode is not None
        self.journal_file = sweep_dir / FILENAME
        if self.dry_run:
            journal = check_journal(sweep_dir, description, settings, True) if resume else None
            return self.preview_jobs(self.stream(arguments, size, journal), str(sweep_dir))

        if not resume:  # bad input fails before any directory is made
            stream = self.stream(arguments, size)
        elif not (sweep_dir / FILENAME).exists():
            check_journal(sweep_dir, description, settings, True)  # says there is none
        with sweep_dir_errors(sweep_dir):
            sweep_dir.mkdir(parents=True, exist_ok=True)
            lock = take_lock(sweep_dir, self.shard_index)
        try:
            journal = check_journal(sweep_dir, description, settings, resume)
            if resume:
                assert journal is not None
                self.check_nothing_runs(journal)
                stream = self.stream(arguments, size, journal)
            log.info(f"Sweep output dir : {sweep_dir}")
            with sweep_dir_errors(sweep_dir):
                OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
                path = start_journal(sweep_dir, description, settings, journal, resume)
            self.record_jobs_in(path)
            return self.launch(stream, sweep_dir, path, journal)
        finally:
            if lock is not None:
                lock.close()

    def check_nothing_runs(self, journal: JournalState) -> None:
        """Refuse to resume while jobs of the sweep may still run (an orphaned job array),
        unless ``resume=force``."""
        running = running_elsewhere(journal)
        if not running:
            return
        shown = ", ".join(f"#{job} ({where})" for job, where in running[:10])
        more = f" and {len(running) - 10} more" if len(running) > 10 else ""
        if self.resume_mode == "force":
            log.warning(f"hydra.sweeper.resume=force: running again {shown}{more}")
            return
        raise ResumeError(
            f"{plural(len(running), 'job')} of this sweep started and have not ended: "
            f"{shown}{more}. They may still be running (a job array outlives the process "
            "that submitted it): resuming now would run them twice. Nothing was launched. "
            "Wait for them to end, or cancel them (scancel for a SLURM array, kill for a "
            "local process), then resume; hydra.sweeper.resume=force runs them again "
            "whatever their state."
        )

    def record_jobs_in(self, path: Path) -> None:
        """Have every job record how it ended in the journal at ``path``, from inside the job.

        Launchers run the callbacks of the sweep's ``HydraContext`` around each job, in the
        job's own process (they pickle the context for remote jobs): the journal's callback
        joins them.
        """
        callbacks = getattr(self.hydra_context, "callbacks", None)
        if callbacks is not None:
            callbacks.callbacks.append(JournalCallback(str(path.absolute())))

    def shard_name(self) -> str:
        """This process's shard as the logs name it: its ``shard_index``, then the count.

        >>> PythonSweeperImpl(shard_index=1, num_shards=4).shard_name()
        'Shard index 1 of 4 shards'
        """
        return f"Shard index {self.shard_index} of {self.num_shards} shards"

    def batch_number(self, start: int, done: int) -> int:
        """The number the logs give the batch starting at job ``start``: from 1, in the
        whole sweep when batches have a size, whatever the shard (``done``: how many
        batches were launched before it)."""
        size = batch_size(self.max_batch_size)
        return done + 1 if size is None else start // size + 1

    def launch(
        self,
        stream: Stream,
        sweep_dir: Path,
        journal_path: Path,
        journal: Optional[JournalState],
    ) -> Any:
        """Validate and launch each batch, up to ``max_in_flight`` at once; return as
        BasicSweeper, or a summary."""
        assert self.launcher is not None
        launcher = self.launcher
        flight = Flight(self.max_in_flight)
        concurrent = self.max_in_flight > 1
        returns: Dict[int, Sequence[JobReturn]] = {}  # by first job number: batch order
        drawn = launched = batches_done = failed = 0
        first_failed: List[int] = []  # the first ten, for the message
        first_failure: Optional[JobReturn] = None
        watch = JournalWatch(journal_path)

        def prepare(item: Tuple[int, Sequence[Sequence[str]]]) -> None:
            nonlocal drawn
            interrupt.check()
            start, batch = item
            drawn += len(batch)
            busy = f"; {flight.running} batches in flight" if concurrent else ""
            log.info(
                f"Batch {self.batch_number(start, batches_done)} : jobs #{start} to "
                f"#{start + len(batch) - 1} ({progress(drawn, stream.total)}{busy})"
            )
            if self.validation:
                self.validate_jobs(start, batch)
            watch.expect(range(start, start + len(batch)))

        def work(item: Tuple[int, Sequence[Sequence[str]]]) -> Sequence[JobReturn]:
            return launcher.launch(item[1], initial_job_idx=item[0])

        interrupt = Interrupt()
        try:
            for (start, batch), results in flight.run(stream.batches, work, prepare):
                interrupt.check()
                statuses = list(map(_status, results))  # a C-level pass: failures are rare
                for index in _indices(statuses, JobStatus.FAILED):
                    failed += 1
                    if len(first_failed) < 10:
                        first_failed.append(start + index)
                    if self.fail_fast and first_failure is None:
                        first_failure = results[index]
                        flight.stop()  # no new launch; the batches in flight end
                self.record_missing(watch, journal_path, start, results)
                if self.results is not None:
                    with sweep_dir_errors(sweep_dir):
                        self.learn(journal_path, start, results)
                launched += len(batch)
                batches_done += 1
                if self.keep_returns:
                    returns[start] = results
                if concurrent:
                    log.info(
                        f"Batch {self.batch_number(start, batches_done - 1)} done: jobs #{start} "
                        f"to #{start + len(batch) - 1}; {plural(launched, 'job')} done, "
                        f"{flight.running} batches in flight"
                    )
            if first_failure is not None:
                log.warning(
                    f"Sweep stopped (fail_fast) after job #{first_failed[0]} failed: "
                    f"{launched - failed} completed, {failed} failed, "
                    f"{journal.skipped if journal else 0} skipped as already done; journal: "
                    f"{journal_path}. To run the failed and remaining jobs: "
                    f"{resume_command(sweep_dir)}"
                )
                _ = first_failure.return_value  # raises the job's error, as BasicSweeper
        except PythonSweeperError as error:
            if launched:
                error.args = (
                    f"{error}\n({plural(launched, 'job')} in {plural(batches_done, 'batch')} "
                    f"completed before this error; their outputs are in {sweep_dir}. To run "
                    f"the rest once it is fixed: {resume_command(sweep_dir)})",
                )
            raise
        except KeyboardInterrupt:
            log.warning(
                f"Interrupted: the journal {journal_path} holds every job that finished "
                f"({launched - failed} completed, {failed} failed). To run the others: "
                f"{resume_command(sweep_dir)}"
            )
            raise SystemExit(130) from None  # as a shell reports Ctrl-C; no traceback
        finally:
            interrupt.restore()
        skipped = journal.skipped if journal is not None else 0
        with sweep_dir_errors(sweep_dir):
            finish_journal(journal_path, launched - failed, failed, skipped)
        log.info(
            f"Sweep done: {launched - failed} completed, {failed} failed, "
            f"{skipped} skipped as already done{stream.dropped()}; journal: {journal_path}"
        )
        if failed:
            shown = ", ".join(f"#{n}" for n in first_failed) + (", ..." if failed > 10 else "")
            raise JobsFailed(
                f"{plural(failed, 'job')} of {launched} failed ({shown}); the journal "
                f"{journal_path} records their errors. To run the failed jobs again: "
                f"{resume_command(sweep_dir)}"
            )
        if not launched and not skipped:
            if self.num_shards > 1:
                log.info(
                    f"{self.shard_name()} is empty: the sweep has too few batches to reach it; "
                    "nothing was launched"
                )
            else:
                log.info("The sweep has no jobs: nothing was launched")
        if self.keep_returns:
            return [returns[start] for start in sorted(returns)]
        return SweepSummary(jobs=launched, batches=batches_done, sweep_dir=str(sweep_dir))

    def record_missing(
        self, watch: JournalWatch, path: Path, start: int, results: Sequence[JobReturn]
    ) -> None:
        """Write the journal lines of the batch's jobs whose own write was lost (a full disk
        in the job, a quota, a launcher that runs no callback): from what the launcher
        returned, in one write. :class:`JournalError` if that fails too: the sweep must not go
        on with jobs it would run again."""
        missing = watch.missing(range(start, start + len(results)), results)
        if not missing:
            return
        lines = []
        for number in missing:
            result = results[number - start]
            completed = result.status == JobStatus.COMPLETED
            overrides = list(result.overrides or [])
            lines.append(job_line(number, overrides, completed, result._return_value, "?"))
        try:
            append(path, *lines)
        except OSError as error:
            raise JournalError(
                f"the journal {path} cannot be written ({error}): the end of job "
                f"#{missing[0]} is not recorded, and a resume would run it again. The sweep "
                "stops."
            ) from error
        log.warning(
            f"{plural(len(missing), 'job')} of batch #{start} to #{start + len(results) - 1} "
            f"(#{missing[0]} first) had no end in the journal (a write from the job failed, "
            "or the launcher runs no callback): written by the sweeper from their returns"
        )

    def preview_jobs(self, stream: Stream, sweep_dir: str) -> SweepSummary:
        """The dry run: count every job by streaming, show the first ``preview``."""
        log.info(f"Dry run: nothing is launched. The first {plural(self.preview, 'job')}:")
        jobs = count = 0
        for start, batch in stream.batches:
            for number, job in enumerate(batch[: max(0, self.preview - jobs)], start):
                log.info(f"\t#{number} : {' '.join(job)}")
            jobs += len(batch)
            count += 1
        shard = f" ({self.shard_name()})" if self.num_shards > 1 else ""
        dropped = f" ({stream.dropped()[2:]})" if stream.dropped() else ""
        log.info(f"Dry run: {plural(jobs, 'job')} in {plural(count, 'batch')}{shard}{dropped}")
        return SweepSummary(jobs=jobs, batches=count, sweep_dir=sweep_dir)

    def validate_jobs(self, start: int, batch: Iterable[Sequence[str]]) -> None:
        """Check each job's config (see :mod:`._validate`); fail on the first that fails."""
        tic = time.perf_counter()
        if self.validator is None and self.validation in ("shape", "strict"):
            assert self.hydra_context is not None and self.config is not None
            self.validator = ShapeValidator(
                self.hydra_context.config_loader, self.config, self.validation == "strict"
            )
        number = start
        for number, job in enumerate(batch, start):
            try:
                if self.validator is not None:
                    self.validator.check(job)
                else:
                    self.validate_batch_is_legal([job])
            except Exception as error:
                raise JobError(
                    f"job #{number} ({' '.join(job)}) cannot be composed: {error_chain(error)}"
                ) from None
        log.debug(
            f"Validated jobs #{start} to #{number} ({self.validation}) in "
            f"{time.perf_counter() - tic:0.2f} seconds"
        )


class Interrupt:
    """Ctrl-C that is not lost. Python raises ``KeyboardInterrupt`` wherever the main thread
    is: inside a ``__del__`` or a weakref callback it is printed and ignored, and the sweep
    would run on. While this is installed, a SIGINT is also remembered, and :meth:`check`
    (between batches) raises it again."""

    def __init__(self) -> None:
        self.seen = False
        self.previous: Any = None
        if threading.current_thread() is threading.main_thread():
            current = signal.getsignal(signal.SIGINT)
            if current is signal.default_int_handler:
                self.previous = current
                signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        self.seen = True
        raise KeyboardInterrupt

    def check(self) -> None:
        if self.seen:
            raise KeyboardInterrupt

    def restore(self) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def resume_command(sweep_dir: Path) -> str:
    """The command that resumes this sweep: this process's own, with the resume settings.

    >>> saved, sys.argv = sys.argv, ["train.py", "-m", "+lr=0.1,0.2", "hydra.sweep.dir=old"]
    >>> resume_command(Path("/runs/a b"))
    "python train.py -m +lr=0.1,0.2 hydra.sweeper.resume=true 'hydra.sweep.dir=/runs/a b'"
    >>> sys.argv = saved
    """
    arguments = [
        argument
        for argument in sys.argv[1:]
        if not argument.startswith(("hydra.sweeper.resume=", "hydra.sweep.dir="))
    ]
    return shlex.join(
        [
            "python",
            sys.argv[0],
            *arguments,
            "hydra.sweeper.resume=true",
            f"hydra.sweep.dir={sweep_dir.absolute()}",
        ]
    )


def resume_mode(value: Any) -> Optional[str]:
    """``hydra.sweeper.resume`` checked: ``None`` (a new sweep), ``resume`` or ``force``.

    >>> resume_mode(False), resume_mode(True), resume_mode("force")
    (None, 'resume', 'force')
    """
    if value is False or value is None:
        return None
    if value is True:
        return "resume"
    if isinstance(value, str) and value.lower() == "force":
        return "force"
    raise SettingError(
        f"hydra.sweeper.resume={value!r}: expected true, false or force (resume, and run "
        "again the jobs the journal says are still running)"
    )


def progress(done: int, total: Optional[int]) -> str:
    """How far a sweep is, as the batch lines say it.

    >>> progress(3000, None), progress(3000, 14000)
    ('3000 jobs so far', '3000 of 14000 jobs, 21%')
    """
    if total is None:
        return f"{plural(done, 'job')} so far"
    return f"{done} of {plural(total, 'job')}, {100 * done // max(total, 1)}%"


def _runs_jobs_in_this_process(launcher: Any) -> bool:
    """Whether ``launcher`` is Hydra's basic launcher, which runs each job in this process
    (changing its working directory, logging and ``HydraConfig``): not safe to overlap."""
    return any(cls.__name__ == "BasicLauncher" for cls in type(launcher).__mro__)


_status = operator.attrgetter("status")


def _indices(items: List[Any], value: Any) -> Iterator[int]:
    """The indices of ``value`` in ``items``, found at C speed.

    >>> list(_indices(["a", "b", "a"], "a")), list(_indices(["b"], "a"))
    ([0, 2], [])
    """
    index = -1
    for _ in range(items.count(value)):
        index = items.index(value, index + 1)
        yield index


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _written_list(value: Any) -> List[Any]:
    """A list setting as plain Python, its interpolations as written (not resolved)."""
    return [
        OmegaConf.to_container(v, resolve=False) if OmegaConf.is_config(v) else v for v in value
    ]


@contextlib.contextmanager
def sweep_dir_errors(sweep_dir: Path) -> Iterator[None]:
    """An :class:`OSError` on the sweep dir (read-only, full, a quota) as one clear error."""
    try:
        yield
    except OSError as error:
        raise SweepDirError(
            f"cannot write the sweep dir {sweep_dir}: {error.strerror or error} "
            f"({type(error).__name__}). Nothing was launched."
        ) from error


def _resolved_list(value: Any, setting: str) -> List[Any]:
    """A list setting as plain Python, its interpolations resolved against the whole config."""
    if OmegaConf.is_config(value) or any(OmegaConf.is_config(v) for v in value):
        try:
            value = [
                OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
                for v in value
            ]
        except Exception as error:
            raise SettingError(f"hydra.sweeper.{setting}: {error}") from None
    return list(value)
