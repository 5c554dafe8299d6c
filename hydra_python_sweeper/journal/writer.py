"""The journal's writers: :func:`append` (whole lines, fsynced) and the job's own callback.

Every line of the journal (:mod:`.lines`) goes through :func:`append`: the sweeper's run,
draw and done lines, and the lines each job writes from its own process through
:class:`JournalCallback`, a Hydra callback, when it starts and when it ends::

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "journal.jsonl"
    >>> append(path, {"done": True}, {"done": True})
    >>> path.read_text().count('{"done": true, "check": ')
    2
"""

import os
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from hydra_python_sweeper.journal.fence import Fence, forget, stand_down, stood_down
from hydra_python_sweeper.journal.files import open_regular
from hydra_python_sweeper.journal.lines import JOURNALED, encode, job_line, started_line
from hydra_python_sweeper.journal.termination import guard, release


def append(path: Path, *records: Dict[str, Any], then: Optional[Callable[[], None]] = None) -> None:
    """Append each record as one line (:func:`.lines.encode`), all in one write, to the
    journal at ``path``, and fsync it; :class:`OSError` if they cannot be written whole, and
    then nothing of them is left in the journal. Once they are there whole, they stay,
    whatever lands next (a signal in ``fsync``, its error): other processes may have read
    them. The journal is a regular file, never followed if it is a symlink, and a torn last
    line (a writer killed mid-write) is cut first: every line of the journal but the one
    being written is whole. Writers in other processes wait for each
    other. ``then()`` runs after the write, in the same turn (the fence of :mod:`.fence`
    moves so)."""
    _append(path, records, None, then)


def append_if(path: Path, when: Callable[[], bool], *records: Dict[str, Any]) -> bool:
    """:func:`append`, if ``when()``, asked in the writer's turn, says so; whether it did."""
    return _append(path, records, when, None)


def _append(
    path: Path,
    records: Sequence[Dict[str, Any]],
    when: Optional[Callable[[], bool]],
    then: Optional[Callable[[], None]],
) -> bool:
    line = b"".join(map(encode, records))
    _close_leaked()
    fd = open_regular(path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
    try:
        # Writers take turns: the last byte is checked, and the line written, while no
        # other writer is half-way through its own line (it would be taken for torn and
        # cut). The lock dies with its holder, whatever kills it.
        _lock(fd)
        status = os.fstat(fd)
        _LOCKED[threading.get_ident()] = (fd, status.st_dev, status.st_ino)
        if when is not None and not when():
            return False
        size = _cut_torn_line(fd)
        try:
            written = 0
            while written < len(line):  # a short write (a full disk, a signal) is retried
                count = os.write(fd, line[written:])
                if count <= 0:
                    raise OSError(f"wrote {written} of {len(line)} bytes")
                written += count
            os.fsync(fd)
        except BaseException:
            # Nothing half-written stays (a full disk, a quota, a signal mid-write); but the
            # size, not ``written``, says whether the line landed whole: a signal can land
            # after the write and before ``written`` is counted, or in fsync, and a line
            # other processes may have read is never taken back.
            if os.fstat(fd).st_size < size + len(line):
                os.ftruncate(fd, size)
            raise
        if then is not None:
            then()
        return True
    finally:
        os.close(fd)  # and the lock with it
        _LOCKED.pop(threading.get_ident(), None)


#: The journal's descriptor each thread of this process holds locked while it appends. A
#: signal's exception that lands in ``_append``'s ``finally`` before ``os.close`` leaves it
#: open, and locked: the thread's next append would wait for that lock forever.
_LOCKED: Dict[int, Tuple[int, int, int]] = {}


def _close_leaked() -> None:
    """Close the locked descriptor an interrupted append of this thread left open (if its
    number still names that journal: a number closed and reused is left alone)."""
    leaked = _LOCKED.pop(threading.get_ident(), None)
    if leaked is None:
        return
    fd, device, inode = leaked
    try:
        status = os.fstat(fd)
    except OSError:
        return
    if (status.st_dev, status.st_ino) == (device, inode):
        os.close(fd)


def _cut_torn_line(fd: int) -> int:
    """Cut the journal's last line if it is torn (no newline: its writer was killed in the
    middle of it); the journal's size after."""
    size = os.fstat(fd).st_size
    end = size
    while end and os.pread(fd, 1, end - 1) != b"\n":
        block = os.pread(fd, min(end, 1 << 16), max(0, end - (1 << 16)))
        newline = block.rfind(b"\n")
        end = end - len(block) + newline + 1 if newline >= 0 else end - len(block)
    if end < size:
        os.ftruncate(fd, end)
    return end


def _lock(fd: int) -> None:
    """An exclusive ``flock`` on the journal (none where the system has none)."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        return
    fcntl.flock(fd, fcntl.LOCK_EX)


class JournalCallback(Callback):
    """Records, from inside each job, that it started (Hydra's ``on_job_start``) and how it
    ended (``on_job_end``), with the host and process that ran it.

    Launchers run the callbacks of the sweep's ``HydraContext`` around each job, in the
    job's own process (they pickle the context for remote jobs): the sweeper adds this one
    to them. ``fence``: the run that launched the job (see :mod:`.fence`); a job that starts
    after a newer run of its shard began writes nothing, and stands down."""

    def __init__(self, path: str, fence: Optional[Fence] = None) -> None:
        self.path = Path(path)
        self.fence = fence
        self.started: Dict[int, float] = {}  # when this process's jobs started

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        number = int(config.hydra.job.num)
        line = started_line(number, list(config.hydra.overrides.task))
        self.started[number] = line["at"]
        if self.fence is None:
            append(self.path, line)
        elif append_if(self.path, self.fence.current, line):
            guard(self.fence)  # a cancel's SIGTERM stops its function, never cuts its end
        else:
            stand_down(number)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        try:
            self._end(config, job_return)
        finally:
            release()  # a SIGTERM held while the end was written lands now

    def _end(self, config: DictConfig, job_return: JobReturn) -> None:
        if stood_down(int(config.hydra.job.num)):  # nothing of it in the journal
            setattr(job_return, JOURNALED, True)
            forget(int(config.hydra.job.num))
            return
        if _interrupted(job_return._return_value):
            return  # no end: it ran when its sweep was stopped, and a resume runs it again
        completed = job_return.status == JobStatus.COMPLETED
        overrides = list(job_return.overrides or [])
        append(
            self.path,
            job_line(
                int(config.hydra.job.num),
                overrides,
                completed,
                job_return._return_value,
                str(config.hydra.runtime.output_dir),
                self.started.pop(int(config.hydra.job.num), None),
            ),
        )
        setattr(job_return, JOURNALED, True)  # written: the sweeper need not read it back


def _interrupted(value: Any) -> bool:
    """Whether a job's outcome is its sweep being stopped, not the job's own: a
    ``BaseException`` that is not an ``Exception`` (the sweep's Ctrl-C, a packed task's
    checkpoint exit). Every other exit of a task reaches Hydra as an ``Exception``
    (``TaskExited``); Hydra 1.4's ``run_job`` hands the rest to this callback as a failure.

    >>> _interrupted(KeyboardInterrupt()), _interrupted(SystemExit(-1)), _interrupted(ValueError())
    (True, True, False)
    """
    return isinstance(value, BaseException) and not isinstance(value, Exception)
