"""One run of a sweep: its batches launched, counted, summed up, and how to resume it.

A :class:`SweepRun` takes a stream of numbered batches (:mod:`._pipeline`), validates each
just before it is launched, keeps up to ``max_in_flight`` launches going (:mod:`._flight`),
counts what completed and failed as batches return, makes sure each job's end is in the
journal (:mod:`._watch`), feeds an adaptive sweep its results, and ends with the run's done
line and summary. A failure (``fail_fast``), an error or Ctrl-C ends it with the counts so
far and the command that resumes the sweep; nothing that finished is lost.
"""

import logging
import operator
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from hydra.core.utils import JobReturn, JobStatus

from ._adaptive import Adaptive
from ._errors import JobsFailed, PythonSweeperError, sweep_dir_errors
from ._flight import Flight
from ._launch import BatchLauncher
from ._lines import COMPLETED, FAILED, abandoned_line, done_line
from ._messages import plural, progress, resume_command
from ._pipeline import Stream
from ._preview import SweepSummary, say_empty
from ._reader import JournalState, read
from ._retries import Retries, Retry
from ._settings import Settings
from ._slurm import alive_tasks, cancel_command, describe
from ._task import CTRL_C
from ._watch import JournalWatch, write_missing
from ._writer import append

log = logging.getLogger(__name__)

Batch = Tuple[int, Sequence[Sequence[str]]]


class SweepRun:
    """Launches ``stream``'s batches with ``launcher`` (see :mod:`._launch`) into
    ``sweep_dir``, whose journal is at ``journal_path`` (``journal``: what it held, on a
    resume). ``validate`` checks a batch's jobs before it is launched; ``adaptive`` learns
    each batch's results."""

    def __init__(
        self,
        settings: Settings,
        launcher: BatchLauncher,
        stream: Stream,
        sweep_dir: Path,
        journal_path: Path,
        journal: Optional[JournalState] = None,
        validate: Optional[Callable[[int, Sequence[Sequence[str]]], None]] = None,
        adaptive: Optional[Adaptive] = None,
        run: int = 1,
        hydra_logging: Optional[Callable[[], None]] = None,
    ) -> None:
        self.settings = settings
        self.launcher = launcher
        self.stream = stream
        self.sweep_dir = sweep_dir
        self.journal_path = journal_path
        self.journal = journal
        self.validate = validate
        self.adaptive = adaptive if adaptive is not None and adaptive.active else None
        self.flight = Flight(settings.max_in_flight)
        self.watch = JournalWatch(journal_path)
        self.returns: Dict[int, Sequence[JobReturn]] = {}  # by first job number: batch order
        self.drawn = self.launched = self.batches_done = self.failed = 0
        self.first_failed: List[int] = []  # the first ten, for the message
        self.first_failure: Optional[JobReturn] = None
        self.interrupt: Optional[Interrupt] = None
        self.run_number = run  # this run's, in the journal
        # puts Hydra's own logging back (a job run in this process leaves its own behind)
        self.hydra_logging = hydra_logging
        self.handed = 0  # batches handed to the launcher
        self.retries = Retries(settings.retries, settings.retry_failed)
        self.retried = 0  # attempts that failed and were launched again
        self.retried_returns: Dict[int, JobReturn] = {}

    @property
    def skipped(self) -> int:
        """Jobs the journal had as completed, skipped by a resume (so far)."""
        return self.journal.skipped if self.journal is not None else 0

    @property
    def completed(self) -> int:
        return self.launched - self.failed - self.retried

    def run(self) -> Any:
        """Validate and launch each batch, up to ``max_in_flight`` at once; return as
        BasicSweeper, or a :class:`SweepSummary`."""
        self.interrupt = Interrupt()
        try:
            batches: Iterator[Batch] = self.with_retries(self.stream.batches)
            while True:
                for item, results in self.flight.run(batches, self.work, self.prepare):
                    self.interrupt.check()
                    self.returned(item, results)
                if not self.retries.pending or self.first_failure is not None:
                    break
                self.flight = Flight(self.settings.max_in_flight)  # the retries left
                batches = self.with_retries(iter(()))
            if self.first_failure is not None:
                self.stopped()
        except PythonSweeperError as error:
            self.abandon_if_nothing_launched()
            if self.launched:
                error.args = (
                    f"{error}\n({plural(self.launched, 'job')} in "
                    f"{plural(self.batches_done, 'batch')} completed before this error; their "
                    f"outputs are in {self.sweep_dir}. To run the rest once it is fixed: "
                    f"{resume_command(self.sweep_dir)})",
                )
            raise
        except KeyboardInterrupt:
            self.abandon_if_nothing_launched()
            self.interrupted()
            if self.flight.running:  # launches left in their threads: see exit_now
                exit_now(self.interrupt.code)
            raise SystemExit(self.interrupt.code) from None  # as a shell reports it
        finally:
            self.interrupt.restore()
        return self.done()

    def prepare(self, item: Batch) -> None:
        """Batch ``item`` is about to be launched: log it, validate it, await its ends."""
        assert self.interrupt is not None
        self.interrupt.check()
        start, batch = item
        self.drawn += len(batch)
        busy = f"; {plural(self.flight.running, 'batch')} in flight" if self.concurrent else ""
        log.info(
            f"Batch {self.settings.batch_number(start, self.batches_done)} : jobs #{start} to "
            f"#{start + len(batch) - 1} ({progress(self.drawn, self.stream.total)}{busy})"
        )
        self.launcher.check(start, len(batch))
        if self.validate is not None:
            self.validate(start, batch)
        self.watch.expect(range(start, start + len(batch)))

    def work(self, item: Batch) -> Sequence[JobReturn]:
        self.handed += 1
        return self.launcher(item)

    def abandon_if_nothing_launched(self) -> None:
        """The run stops before it handed any job to the launcher (a bad filter, a job that
        cannot be composed, Ctrl-C): the journal says so, and the dir does not hold it
        against the corrected run."""
        if self.handed:
            return
        try:
            append(self.journal_path, abandoned_line(self.run_number))
        except OSError:
            pass  # the run stays in the journal: a resume or another dir then

    @property
    def concurrent(self) -> bool:
        return self.settings.max_in_flight > 1

    def with_retries(self, batches: Iterator[Batch]) -> Iterator[Batch]:
        """The stream's batches, each preceded by the retries waiting to be launched."""
        for item in batches:
            yield from self.retries.batches(self.settings.batch_size)
            yield item
        yield from self.retries.batches(self.settings.batch_size)

    def returned(self, item: Batch, results: Sequence[JobReturn]) -> None:
        """Batch ``item``'s launch returned ``results``: count them, record the ends the
        journal lacks, learn them (an adaptive sweep)."""
        start, batch = item
        statuses = list(map(_status, results))  # a C-level pass: failures are rare
        for index in _indices(statuses, JobStatus.FAILED):
            if self.retries.again(start + index, batch[index], results[index]):
                self.retried += 1
                continue
            self.failed += 1
            if len(self.first_failed) < 10:
                self.first_failed.append(start + index)
            if self.settings.fail_fast and self.first_failure is None:
                self.first_failure = results[index]
                self.flight.stop()  # no new launch; the batches in flight end
        write_missing(self.watch, self.journal_path, start, results)
        if self.adaptive is not None:
            with sweep_dir_errors(self.sweep_dir):
                self.adaptive.learn(start, results)
        self.launched += len(batch)
        self.batches_done += 1
        if self.settings.keep_returns:
            if isinstance(batch, Retry):  # in place of the attempts before
                self.retried_returns.update(zip(range(start, start + len(batch)), results))
            else:
                self.returns[start] = results
        if self.concurrent:
            log.info(
                f"Batch {self.settings.batch_number(start, self.batches_done - 1)} done: jobs "
                f"#{start} to #{start + len(batch) - 1}; {plural(self.launched, 'job')} done, "
                f"{plural(self.flight.running, 'batch')} in flight"
            )

    def interrupted(self) -> None:
        """Ctrl-C: what the journal holds, what still runs on the cluster, how to go on."""
        if self.hydra_logging is not None:
            self.hydra_logging()
        log.warning(interrupted(self.journal_path, self.sweep_dir, self.launcher.slurm))

    def stopped(self) -> None:
        """``fail_fast``: a job failed, the batches in flight ended; raise its error."""
        assert self.first_failure is not None
        log.warning(
            f"Sweep stopped (fail_fast) after job #{self.first_failed[0]} failed: "
            f"{self.completed} completed, {self.failed} failed, "
            f"{self.skipped} skipped as already done; journal: "
            f"{self.journal_path}. To run the failed and remaining jobs: "
            f"{resume_command(self.sweep_dir)}"
        )
        _ = self.first_failure.return_value  # raises the job's error, as BasicSweeper

    def done(self) -> Any:
        """Every batch ran: the done line, the summary, and the returns."""
        if not self.launched and not self.skipped:
            say_empty(self.settings)
        ran = every_job_ran(self.completed, self.failed, self.sweep_dir)
        with sweep_dir_errors(self.sweep_dir, so=ran):
            line = done_line(self.run_number, self.completed, self.failed, self.skipped)
            append(self.journal_path, line)
        log.info(
            f"Sweep done: {self.completed} completed, {self.failed} failed, "
            f"{self.skipped} skipped as already done{self.stream.dropped()}; journal: "
            f"{self.journal_path}"
        )
        if self.failed:
            shown = ", ".join(f"#{n}" for n in self.first_failed)
            shown += ", ..." if self.failed > 10 else ""
            jobs = self.launched - self.retried
            raise JobsFailed(
                f"{plural(self.failed, 'job')} of {jobs} failed ({shown}); the journal "
                f"{self.journal_path} records their errors. To run the failed jobs again: "
                f"{resume_command(self.sweep_dir)}"
            )
        if self.settings.keep_returns:
            returns = self.retried_returns
            return [
                [returns.get(n, r) for n, r in enumerate(self.returns[start], start)]
                for start in sorted(self.returns)
            ]
        return SweepSummary(
            jobs=self.launched - self.retried,
            batches=self.batches_done,
            sweep_dir=str(self.sweep_dir),
        )


def every_job_ran(completed: int, failed: int, sweep_dir: Path) -> str:
    """What a done line that cannot be written means: every job ran, a resume writes it."""
    again = f"runs the {plural(failed, 'failed job')} again" if failed else "runs nothing again"
    return (
        f"Every job ran ({completed} completed, {failed} failed) and its end is in the "
        "journal; only the line that says the sweep ended is missing: "
        f"{resume_command(sweep_dir)} writes it and {again}."
    )


def exit_now(code: int) -> None:
    """End the process with ``code`` at once, its output flushed, without the exit hooks:
    a launcher's (joblib's loky joins its executor's thread, which waits for workers that the
    same signal killed) would hang the interrupted sweep for ever."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def interrupted(journal: Path, sweep_dir: Path, slurm: bool) -> str:
    """What a Ctrl-C of the sweep says: what the journal holds, the SLURM tasks still queued
    or running (``slurm``) and how to cancel them, and how to go on."""
    completed, failed = journal_counts(journal)
    message = (
        f"Interrupted: the journal {journal} holds every job that finished "
        f"({completed} completed, {failed} failed)."
    )
    tasks = alive_tasks(sweep_dir) if slurm else []
    if tasks:
        message += (
            f" {plural(len(tasks), 'SLURM task')} of this sweep are still queued or running, "
            f"and go on without this process: {describe(tasks)}. To cancel them: "
            f"{cancel_command(tasks)}. A resume waits for them to end."
        )
    return f"{message} To run the others: {resume_command(sweep_dir)}"


def journal_counts(path: Path) -> Tuple[int, int]:
    """How many jobs the journal at ``path`` holds as completed and as failed (their last
    line); ``(0, 0)`` if it cannot be read."""
    try:
        status = read(path).status
    except (OSError, PythonSweeperError):
        return 0, 0
    return status.count(COMPLETED), status.count(FAILED)


class Interrupt:
    """Ctrl-C (and SIGTERM) that is not lost. Python raises ``KeyboardInterrupt`` wherever
    the main thread is: inside a ``__del__`` or a weakref callback it is printed and
    ignored, and the sweep would run on. While this is installed, a SIGINT or a SIGTERM is
    also remembered, and :meth:`check` (between batches) raises it again; :attr:`code` is
    the exit code a shell reports for it (130, 143)."""

    def __init__(self) -> None:
        self.seen = False
        self.code = 130
        self.previous: Dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for signum, default in (
                (signal.SIGINT, signal.default_int_handler),
                (signal.SIGTERM, signal.SIG_DFL),
            ):
                if signal.getsignal(signum) is default:
                    self.previous[signum] = default
                    signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        self.seen = True
        self.code = 128 + signum
        CTRL_C.set()  # a job running in this process was interrupted by the user
        raise KeyboardInterrupt

    def check(self) -> None:
        if self.seen:
            raise KeyboardInterrupt

    def restore(self) -> None:
        for signum, previous in self.previous.items():
            signal.signal(signum, previous)
        self.previous = {}


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
