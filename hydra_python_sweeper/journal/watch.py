"""The watch of the batches in flight: which of their jobs have their end in the journal.

A job's own callback writes its end line (:mod:`.writer`); a job whose end is missing when
its launch returned lost that write (a full disk, a quota, a launcher that runs no callback),
and :func:`write_missing` writes it from what the launcher returned, so that a resume does
not run it again.
"""

import logging
from pathlib import Path
from typing import Any, List, Sequence, Set

from hydra.core.utils import JobReturn, JobStatus

from hydra_python_sweeper.errors import JournalError
from hydra_python_sweeper.journal.files import open_journal
from hydra_python_sweeper.journal.lines import end_lines, job_line, journaled
from hydra_python_sweeper.journal.reader import whole_lines
from hydra_python_sweeper.journal.writer import append
from hydra_python_sweeper.messages import plural

log = logging.getLogger(__name__)


class JournalWatch:
    """Which jobs of the batches in flight have their end in the journal. A job whose end is
    missing when its launch returned lost its journal write (a full disk, a quota, a
    launcher that runs no callback): the sweeper then writes it from what the launcher
    returned.

    The job's own callback marks its ``JobReturn`` once its end line is written
    (:data:`JOURNALED`), so a batch whose returns are all marked is trusted as it is; for any
    other, the watch reads what was appended since it last looked, a block at a time (so it
    holds only the jobs in flight, whatever the sweep's size).

    >>> import tempfile
    >>> from hydra_python_sweeper.journal.lines import FILENAME
    >>> path = Path(tempfile.mkdtemp()) / FILENAME
    >>> watch = JournalWatch(path)
    >>> watch.expect(range(0, 3))
    >>> append(path, job_line(1, ["a=1"], True, None, "1"))
    >>> watch.missing(range(0, 3))
    [0, 2]
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0
        self.awaited: List[range] = []  # the batches in flight
        self.ended: Set[int] = set()  # the jobs of those whose end was read

    def expect(self, numbers: range) -> None:
        self.awaited.append(numbers)

    def missing(self, numbers: range, returns: Sequence[Any] = ()) -> List[int]:
        """The jobs of ``numbers`` (a batch that returned) whose end the journal does not
        hold: none if ``returns``, their ``JobReturn`` objects, all say their end was
        written. The batch is forgotten."""
        if returns and journaled(returns):
            missing = []
        else:
            log.debug(
                f"Jobs #{numbers.start} to #{numbers.stop - 1}: their returns are not all marked "
                "by the journal's callback; reading the journal back"
            )
            self._read()
            missing = [number for number in numbers if number not in self.ended]
        if self.ended:
            self.ended.difference_update(numbers)
        self.awaited = [batch for batch in self.awaited if batch.start != numbers.start]
        if not self.awaited:  # nothing in flight: what was appended is no job's to await
            self.offset = self.path.stat().st_size
        return missing

    def _read(self) -> None:
        """Note the jobs in flight whose end line was appended since the last read: whole
        lines only (a line being written waits for the next read)."""
        with open_journal(self.path) as f:
            f.seek(self.offset)
            for lines in whole_lines(f):
                for number, _ in end_lines(b"\n" + lines):
                    if any(number in batch for batch in self.awaited):
                        self.ended.add(number)
                self.offset += len(lines)


def write_missing(
    watch: JournalWatch, path: Path, start: int, results: Sequence[JobReturn]
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
