"""A big journal read by several processes at once, for a status in a second.

The journal is cut at line ends into one part a process. Each process reads its part as
:func:`.reader.read` reads a whole journal, into a state of its own, keeping its run, done
and abandoned lines aside; the parts' states are then merged in order (a job's status and
digest from the last part with a line of it, the jobs left started from the last part that
touched them), and the lines kept aside read in order. The result is the state
:func:`.reader.read` returns; a part that holds an error is read again in one process, so
that the error names its line as it does there::

    >>> import tempfile
    >>> from hydra_python_sweeper.journal.lines import job_line, started_line
    >>> from hydra_python_sweeper.journal.writer import append
    >>> path = Path(tempfile.mkdtemp()) / "journal.jsonl"
    >>> append(path, *[job_line(n, [f"a={n}"], n % 3 > 0, n, str(n)) for n in range(60)])
    >>> append(path, started_line(0, ["a=0"]))
    >>> state, _ = read_split(path, None, processes=3, least=0)
    >>> state.status == read(path).status, sorted(state.started)
    (True, [0])
"""

import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import BinaryIO, List, Optional, Tuple, TypeVar

from hydra_python_sweeper.errors import JournalError
from hydra_python_sweeper.journal.files import open_journal
from hydra_python_sweeper.journal.lines import STARTED
from hydra_python_sweeper.journal.reader import JournalState, _read_other, read, read_blocks

T = TypeVar("T")
#: A journal smaller than this is read in one process (the processes cost more than they save).
LEAST = 32 << 20
_TOUCHED = re.compile(rb"[^\x00]+")  # the jobs a part has a line of: runs of nonzero statuses


def read_split(
    path: Path,
    scan: Optional[T],
    failures: bool = False,
    digests: bool = True,
    processes: Optional[int] = None,
    least: Optional[int] = None,
) -> Tuple[JournalState, List[Optional[T]]]:
    """The state of the journal at ``path`` (with its failed jobs' lines if ``failures``,
    without its digests unless ``digests``), read by ``processes`` processes (the CPUs this
    process may use, at most 8), and one copy of ``scan`` (a callable given each block of
    whole lines, as :func:`.reader.read` takes) per part, in order."""
    size = path.stat().st_size
    processes = processes or min(_cpus(), 8)
    least = LEAST if least is None else least
    forks = "fork" in multiprocessing.get_all_start_methods()  # not on Windows
    if size < least or processes < 2 or not forks:
        return read(path, scan, failures, digests), [scan]  # type: ignore[arg-type]
    cuts = [size * index // processes for index in range(processes + 1)]
    context = multiprocessing.get_context("fork")  # no import again: the parts start at once
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        kind = [(scan, failures, digests)] * processes
        parts = list(pool.map(_read_part, [path] * processes, cuts[:-1], cuts[1:], kind))
    if any(part is None for part in parts):  # an error: one process names its line
        return read(path, scan, failures, digests), [scan]  # type: ignore[arg-type]
    state = JournalState(path=path, failures={} if failures else None, with_digests=digests)
    deferred: List[Tuple[int, bytes]] = []
    lines = 0
    for part, _, count, _ in parts:  # type: ignore[misc]
        merge(state, part)
        deferred.extend((lines + number, raw) for number, raw in part.deferred or ())
        lines += count
    for number, raw in deferred:
        _read_other(path, state, number, raw)
    rest = b"".join(part[3] for part in parts)  # type: ignore[index]
    if rest:  # a last line with no newline, as :func:`.reader.read` reads it
        _read_other(path, state, lines + 1, rest)
    return state, [part[1] for part in parts]  # type: ignore[index]


def merge(state: JournalState, part: JournalState) -> None:
    """Add to ``state`` what ``part``, the journal's lines after those ``state`` read, says of
    the jobs: each job it has a line of takes its status, digest and started line from it.

    >>> from hydra_python_sweeper.journal.lines import COMPLETED, FAILED
    >>> state, part = JournalState(), JournalState()
    >>> state.record(0, bytes(8), STARTED); state.started[0] = b"..."
    >>> state.record(1, bytes(8), FAILED)
    >>> part.record(0, bytes(8), COMPLETED); part.record(3, bytes(8), COMPLETED)
    >>> merge(state, part)
    >>> list(state.status), state.started
    ([1, 2, 0, 1], {})
    """
    grow = len(part.status) - len(state.status)
    if grow > 0:
        state.status.extend(bytes(grow))
        state.digests.extend(bytes(8 * grow if state.with_digests else 0))
    for touched in _TOUCHED.finditer(part.status):
        begin, end = touched.span()
        state.status[begin:end] = touched[0]
        if state.with_digests:
            state.digests[8 * begin : 8 * end] = part.digests[8 * begin : 8 * end]
    state.ends += part.ends
    if state.failures is not None and part.failures:
        state.failures.update(part.failures)
    status = state.status
    for number in [n for n in state.started if status[n] != STARTED]:
        del state.started[number]
    state.started.update(part.started)


def _read_part(
    path: Path, begin: int, end: int, kind: Tuple[Optional[T], bool, bool]
) -> Optional[Tuple[JournalState, Optional[T], int, bytes]]:
    """The lines that start in bytes ``begin`` to ``end`` of the journal, read into a state
    of their own (their run, done and abandoned lines kept aside), ``scan`` given each
    block; how many lines they are; and the journal's last line if it starts in the part
    and has no newline (as :func:`.reader.read` reads it: one part at most has it).
    ``None`` for a part with an error in it. ``kind`` is ``scan`` and :func:`read_split`'s
    ``failures`` and ``digests``."""
    scan, failures, digests = kind
    state = JournalState(path=path, deferred=[], failures={} if failures else None)
    state.with_digests = digests
    with open_journal(path) as f:
        start, stop = _line_start(f, begin), _line_start(f, end)
        f.seek(start)
        try:
            line, read = read_blocks(path, state, f, 1, stop - start, scan)  # type: ignore[arg-type]
        except JournalError:
            return None
        f.seek(read)
        rest = f.readline() if read < stop else b""  # (one line: any after was appended since)
    return state, scan, line - 1, rest


def _cpus() -> int:
    """The CPUs this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)  # Linux
    return len(affinity(0)) if affinity else os.cpu_count() or 1


def _line_start(f: BinaryIO, offset: int) -> int:
    """Where the first line that starts at ``offset`` or after starts in ``f`` (its size if
    none does)."""
    if offset == 0:
        return 0
    f.seek(offset - 1)
    at = offset - 1
    for data in iter(lambda: f.read(1 << 16), b""):
        newline = data.find(b"\n")
        if newline >= 0:
            return at + newline + 1
        at += len(data)
    return at
