"""One run of a sweep: its batches launched, counted, summed up, and how to resume it.

A :class:`SweepRun` takes a stream of numbered batches (:mod:`.pipeline`), validates each
just before it is launched, keeps up to ``max_in_flight`` launches going (:mod:`.flight`),
counts what completed and failed as batches return, makes sure each job's end is in the
journal (:mod:`journal.watch`), feeds an adaptive sweep its results, and ends with the run's done
line and summary. A failure (``fail_fast``), an error or Ctrl-C ends it with the counts so
far and the command that resumes the sweep; nothing that finished is lost.
"""

import itertools
import logging
import operator
import signal
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from hydra.core.utils import JobReturn, JobStatus

from hydra_python_sweeper.errors import PythonSweeperError, sweep_dir_errors
from hydra_python_sweeper.journal.reader import JournalState
from hydra_python_sweeper.journal.watch import JournalWatch, write_missing
from hydra_python_sweeper.messages import plural, progress
from hydra_python_sweeper.run.adaptive import Adaptive
from hydra_python_sweeper.run.adoption import Adopted, Adoption, returned_by
from hydra_python_sweeper.run.ending import Ending, exit_now
from hydra_python_sweeper.run.flight import Flight
from hydra_python_sweeper.run.launch import BatchLauncher
from hydra_python_sweeper.run.pipeline import Stream
from hydra_python_sweeper.run.retries import Retries, Retry
from hydra_python_sweeper.run.settings import Settings
from hydra_python_sweeper.run.task import CTRL_C

log = logging.getLogger(__name__)

Batch = Tuple[int, Sequence[Sequence[str]]]


class SweepRun(Ending):
    """Launches ``stream``'s batches with ``launcher`` (see :mod:`.launch`) into
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
        adoption: Optional[Adoption] = None,
    ) -> None:
        self.settings = settings
        self.launcher = launcher
        self.stream = stream
        #: A resume's jobs of an earlier run still running (:mod:`.adoption`), set aside from
        #: ``stream``: each group takes a place in flight until it ends.
        self.adoption = adoption
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

    def run(self) -> Any:
        """Validate and launch each batch, up to ``max_in_flight`` at once; return as
        BasicSweeper, or a :class:`SweepSummary`."""
        self.interrupt = Interrupt()
        try:
            batches: Iterator[Any] = self.with_retries(self.stream.batches)
            if self.adoption is not None:  # each group takes a place in flight
                batches = itertools.chain(self.adoption.items(), batches)
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
                error.args = (f"{error}\n({self.before_error()})",)
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
        if isinstance(item, Adopted):
            log.info(f"Adopted: jobs {item} of an earlier run, still running")
            return
        start, batch = item
        self.drawn += len(batch)
        busy = f"; {plural(self.flight.running, 'batch')} in flight" if self.concurrent else ""
        self.launcher.check(start, len(batch))
        if self.validate is not None:
            self.validate(start, batch)
        log.info(  # once it is sure to be launched
            f"Batch {self.settings.batch_number(start, self.batches_done)} : jobs #{start} to "
            f"#{start + len(batch) - 1} ({progress(self.drawn, self.stream.total)}{busy})"
        )
        self.watch.expect(range(start, start + len(batch)))

    def work(self, item: Batch) -> Sequence[JobReturn]:
        self.handed += 1
        if isinstance(item, Adopted):  # no launch: their ends, once they exited
            poll = min(self.settings.poll_interval, 1.0)
            assert self.adoption is not None
            return item.wait(self.journal_path, self.adoption.offset, poll)
        return self.launcher(item)

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
        if isinstance(item, Adopted):
            self.adopted(item, results)
            return
        start, batch = item
        statuses = list(map(_status, results))  # a C-level pass: failures are rare
        for index in _indices(statuses, JobStatus.FAILED):
            if self.retries.again(start + index, batch[index], results[index]):
                self.retried += 1
                continue
            self.failure(start + index, results[index])
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

    def failure(self, number: int, result: JobReturn) -> None:
        """Job ``number`` failed (and is not launched again)."""
        self.failed += 1
        if len(self.first_failed) < 10:
            self.first_failed.append(number)
        if self.settings.fail_fast and self.first_failure is None:
            self.first_failure = result
            self.flight.stop()  # no new launch; the batches in flight end

    def adopted(self, item: Adopted, ends: Dict[int, Dict[str, Any]]) -> None:
        """Adopted jobs exited, ``ends`` the end lines they wrote: counted as this run's;
        those that wrote none are launched again."""
        assert self.adoption is not None
        self.retries.pending.extend(self.adoption.ended(item.numbers, ends))
        for number, end in sorted(ends.items()):
            result = returned_by(end)
            self.launched += 1
            if result.status == JobStatus.FAILED:
                self.failure(number, result)
            if self.settings.keep_returns:
                self.returns[number] = [result]


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
