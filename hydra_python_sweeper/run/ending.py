"""How a run ends: its done line, summary and returns; fail_fast's stop; Ctrl-C's message;
an error's note of what completed before it; a run that launched nothing, abandoned.

:class:`Ending` holds these for :class:`.loop.SweepRun`, which counts what its batches
returned into the attributes it declares.
"""

import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from hydra.core.utils import JobReturn

from hydra_python_sweeper.cluster.slurm import alive_tasks, cancel_command, describe
from hydra_python_sweeper.errors import JobsFailed, PythonSweeperError, sweep_dir_errors
from hydra_python_sweeper.journal.lines import COMPLETED, FAILED, abandoned_line, done_line
from hydra_python_sweeper.journal.reader import read
from hydra_python_sweeper.journal.writer import append
from hydra_python_sweeper.messages import plural, resume_command
from hydra_python_sweeper.run.launch import BatchLauncher
from hydra_python_sweeper.run.pipeline import Stream
from hydra_python_sweeper.run.settings import Settings
from hydra_python_sweeper.run.summary import SweepSummary, say_empty

log = logging.getLogger(__name__)


class Ending:
    """The end of a run (see the module's docstring), from the counts it kept."""

    settings: Settings
    launcher: BatchLauncher
    stream: Stream
    sweep_dir: Path
    journal_path: Path
    run_number: int
    hydra_logging: Optional[Callable[[], None]]
    handed: int
    launched: int
    failed: int
    retried: int
    batches_done: int
    first_failed: List[int]
    first_failure: Optional[JobReturn]
    returns: Dict[int, Sequence[JobReturn]]
    retried_returns: Dict[int, JobReturn]

    @property
    def skipped(self) -> int:
        raise NotImplementedError

    @property
    def completed(self) -> int:
        return self.launched - self.failed - self.retried

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

    def before_error(self) -> str:
        """What ended before an error, as the journal counts it (a batch in flight when the
        error came may have ended only in part)."""
        completed, failed = journal_counts(self.journal_path)
        return (
            f"{plural(completed, 'job')} completed and {failed} failed before this error (the "
            f"journal's count); their outputs are in {self.sweep_dir}. To run the rest once "
            f"it is fixed: {resume_command(self.sweep_dir)}"
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
        if self.failed > self.settings.max_failure_rate * (self.completed + self.failed):
            shown = ", ".join(f"#{n}" for n in self.first_failed)
            shown += ", ..." if self.failed > 10 else ""
            jobs = self.launched - self.retried
            raise JobsFailed(
                f"{plural(self.failed, 'job')} of {jobs} failed ({shown}); the journal "
                f"{self.journal_path} records their errors. To run the failed jobs again: "
                f"{resume_command(self.sweep_dir)}"
            )
        if self.failed:
            log.warning(
                f"{plural(self.failed, 'job')} failed, within max_failure_rate="
                f"{self.settings.max_failure_rate}"
            )
        if self.settings.keep_returns:
            return in_order(self.returns, self.retried_returns)
        return SweepSummary(
            jobs=self.launched - self.retried,
            batches=self.batches_done,
            sweep_dir=str(self.sweep_dir),
        )


def in_order(
    returns: Dict[int, Sequence[JobReturn]], instead: Dict[int, JobReturn]
) -> List[Sequence[JobReturn]]:
    """The batches' returns (by first job number) in order, a job's last attempt (in
    ``instead``) in place of its first; an attempt of a job no batch returned (an adopted job
    launched again) as a batch of its own, in its place.

    >>> in_order({2: ["c"], 0: ["a", "b"]}, {1: "B", 5: "F"})
    [['a', 'B'], ['c'], ['F']]
    """
    covered = {n for start, batch in returns.items() for n in range(start, start + len(batch))}
    alone = {n: [r] for n, r in instead.items() if n not in covered}
    batches = {**returns, **alone}
    return [
        [instead.get(n, r) for n, r in enumerate(batches[start], start)]
        for start in sorted(batches)
    ]


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
            f"{cancel_command(tasks)}. A resume adopts those that run and cancels those "
            "still queued (it launches their jobs)."
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
