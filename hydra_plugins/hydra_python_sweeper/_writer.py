"""The journal's writers: :func:`append` (whole lines, fsynced) and the job's own callback.

Every line of the journal (:mod:`._lines`) goes through :func:`append`: the sweeper's run,
draw and done lines, and the lines each job writes from its own process through
:class:`JournalCallback`, a Hydra callback, when it starts and when it ends::

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "journal.jsonl"
    >>> append(path, {"done": True}, {"done": True})
    >>> path.read_text()
    '{"done": true}\\n{"done": true}\\n'
"""

import json
import os
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from ._fence import Fence, forget, stand_down, stood_down
from ._lines import JOURNALED, job_line, started_line

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def append(path: Path, *records: Dict[str, Any], then: Optional[Callable[[], None]] = None) -> None:
    """Append each record as one line, all in one write, to the journal at ``path``, and
    fsync it; :class:`OSError` if they cannot be written whole. The journal is not followed
    if it is a symlink, and a torn last line (a writer killed mid-write) is ended first, so
    no record is swallowed; writers in other processes wait for each other. ``then()`` runs
    after the write, in the same turn (the fence of :mod:`._fence` moves so)."""
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
    line = "".join(json.dumps(record, default=repr) + "\n" for record in records).encode()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | NOFOLLOW, 0o644)
    try:
        # Writers take turns: the last byte is checked, and the line written, while no
        # other writer is half-way through its own line (it would be taken for torn and
        # ended, leaving a blank line). The lock dies with its holder, whatever kills it.
        _lock(fd)
        if when is not None and not when():
            return False
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line
        written = 0
        while written < len(line):  # a short write (a full disk, a signal) is retried
            count = os.write(fd, line[written:])
            if count <= 0:
                raise OSError(f"wrote {written} of {len(line)} bytes")
            written += count
        os.fsync(fd)
        if then is not None:
            then()
        return True
    finally:
        os.close(fd)  # and the lock with it


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
    to them. ``fence``: the run that launched the job (see :mod:`._fence`); a job that starts
    after a newer run of its shard began writes nothing, and stands down."""

    def __init__(self, path: str, fence: Optional[Fence] = None) -> None:
        self.path = Path(path)
        self.fence = fence

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        number = int(config.hydra.job.num)
        line = started_line(number, list(config.hydra.overrides.task))
        if self.fence is None:
            append(self.path, line)
        elif not append_if(self.path, self.fence.current, line):
            stand_down(number)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if stood_down(int(config.hydra.job.num)):  # nothing of it in the journal
            setattr(job_return, JOURNALED, True)
            forget(int(config.hydra.job.num))
            return
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
            ),
        )
        setattr(job_return, JOURNALED, True)  # written: the sweeper need not read it back
