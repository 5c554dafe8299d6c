"""The sweep's journal, and who owns the sweep dir: what ran, what runs, how to resume.

The journal is a JSON-lines file in the sweep dir, ``journal.jsonl``. Every line is one
JSON object, appended whole and fsynced, so a crash or a kill at any instant leaves every
earlier line readable (a torn line is skipped with a warning):

- a *run* line each time a sweep starts or resumes, with its batch settings::

    {"run": 1, "resume": false, "fingerprint": "9f0c...", "version": "0.2.0",
     "max_batch_size": 1000, "num_shards": 1, "shard_index": 0, "host": "login1",
     "pid": 4242, "sweep": {"entrypoints": [...], "arguments": [...], ...}}

- *job* lines, written from inside the job by :class:`JournalCallback`, a Hydra callback,
  whatever the launcher: when it starts (with the host and pid that run it) and when it
  ends, so the journal holds the jobs that completed inside a batch that was interrupted,
  and knows which jobs may still run::

    {"job": 12, "status": "started", "digest": "5d1e...", "host": "node3", "pid": 777}
    {"job": 12, "status": "completed", "digest": "5d1e...", "overrides": ["lr=0.1"],
     "return": 0.93, "dir": "multirun/2026-11-27/10-00-00/12"}

- a *done* line when a run reaches its end: ``{"done": true, "completed": 14, ...}``.

``return`` is the task's return value when it is JSON-serialisable, else its ``repr`` (for
a failure, the exception's). A job's last line decides its status. A process owns a shard of
the sweep dir while it runs it (:func:`take_lock`).
"""

import binascii
import itertools
import json
import logging
import operator
import os
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

import xxhash
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from ._errors import PythonSweeperError
from ._stages import job_digest, job_digests

log = logging.getLogger(__name__)

FILENAME = "journal.jsonl"
COMPLETED, FAILED, STARTED = 1, 2, 3
_STATUS = {"completed": COMPLETED, "failed": FAILED, "started": STARTED}


class ResumeError(PythonSweeperError):
    """The journal cannot be resumed: missing, or the sweep it records is another."""


class JournalError(PythonSweeperError):
    """The journal cannot be written, or a line of it cannot be read."""


def append(path: Path, *records: Dict[str, Any]) -> None:
    """Append each record as one line, all in one write, to the journal at ``path``, and
    fsync it; :class:`OSError` if they cannot be written whole. The journal is not followed
    if it is a symlink, and a torn last line (a writer killed mid-write) is ended first, so
    no record is swallowed."""
    line = "".join(json.dumps(record, default=repr) + "\n" for record in records).encode()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | _NOFOLLOW, 0o644)
    try:
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
    finally:
        os.close(fd)


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def fingerprint(sweep: Dict[str, Any]) -> str:
    """A digest of what defines the job stream: equal for the same sweep, run again.

    >>> fingerprint({"entrypoints": ["m.f"]}) == fingerprint({"entrypoints": ["m.f"]})
    True
    """
    return xxhash.xxh3_128_hexdigest(json.dumps(sweep, sort_keys=True, default=repr).encode())


def _returned(value: Any) -> Any:
    """The return value as JSON if it is JSON-serialisable, else its ``repr``; a placeholder
    that says so if even that fails (a ``repr`` that raises, a structure too deep).

    >>> _returned([1, "a"]), _returned({1, 2})
    ([1, 'a'], '{1, 2}')
    """
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError, RecursionError):
        pass
    try:
        return repr(value)
    except BaseException as error:
        return (
            f"<the return value of type {type(value).__name__} cannot be written: {error!r:.200}>"
        )


class JournalCallback(Callback):
    """Records, from inside each job, that it started (Hydra's ``on_job_start``) and how it
    ended (``on_job_end``), with the host and process that ran it."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        overrides = list(config.hydra.overrides.task)
        append(
            self.path,
            {
                "job": int(config.hydra.job.num),
                "status": "started",
                "digest": job_digest(overrides).hex(),
                "host": socket.gethostname(),
                "pid": os.getpid(),
            },
        )

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
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


def job_line(
    number: int, overrides: List[str], completed: bool, returned: Any, output_dir: str
) -> Dict[str, Any]:
    """The journal's line for a job that ended."""
    return {
        "job": number,
        "status": "completed" if completed else "failed",
        "digest": job_digest(overrides).hex(),
        "overrides": overrides,
        "return": _returned(returned),
        "dir": output_dir,
    }


@dataclass
class JournalState:
    """What a journal says: the runs, and per job number its digest's first 8 bytes and
    its status, in two compact arrays (9 bytes a job)."""

    runs: List[Dict[str, Any]] = field(default_factory=list)
    digests: bytearray = field(default_factory=bytearray)
    status: bytearray = field(default_factory=bytearray)
    skipped: int = 0
    #: The jobs whose last line says they started (and not how they ended): their lines.
    started: Dict[int, bytes] = field(default_factory=dict)
    #: Whether the last run ran to its end with no job failed.
    finished: bool = False

    @property
    def size(self) -> int:
        """One more than the highest job number recorded."""
        return len(self.status)

    def record(self, number: int, digest: bytes, status: int) -> None:
        """Record job ``number``'s status and the first 8 bytes of its digest."""
        self.record_lines([number], [status], [digest[:8].hex().encode()])  # not started

    def record_lines(
        self, numbers: Sequence[int], statuses: Sequence[int], digests: Sequence[bytes]
    ) -> List[int]:
        """Record job lines, in order: their jobs' numbers, statuses and digests (the first
        16 hex digits). When the lines' jobs are all the jobs of a range (a journal's usual
        case), by C-level passes; else job by job. Returns the jobs these lines leave
        started, whose lines the caller keeps in :attr:`started`."""
        last = dict(zip(numbers, range(len(numbers))))  # each job's last line
        low, high = min(last), max(last) + 1
        if high > len(self.status):
            self.digests.extend(bytes(8 * (high - len(self.status))))
            self.status.extend(bytes(high - len(self.status)))
        if high - low == len(last):
            lines = list(map(last.__getitem__, range(low, high)))
            hexes = b"".join(map(digests.__getitem__, lines))
            self.digests[8 * low : 8 * high] = binascii.unhexlify(hexes)
            assigned = bytes(map(statuses.__getitem__, lines))
            self.status[low:high] = assigned
            started, at = [], assigned.find(STARTED)
            while at >= 0:
                started.append(low + at)
                at = assigned.find(STARTED, at + 1)
        else:
            for number, line in last.items():
                self.digests[8 * number : 8 * number + 8] = binascii.unhexlify(digests[line])
                self.status[number] = statuses[line]
            started = [number for number, line in last.items() if statuses[line] == STARTED]
        status = self.status
        for number in [n for n in self.started if status[n] != STARTED]:
            del self.started[number]  # its job ended since
        return started

    def check(self, start: int, jobs: Sequence[Sequence[str]]) -> bytes:
        """The recorded statuses of jobs ``start``, ``start + 1``... (0: none), after checking
        that each recorded job is the one regenerated under its number (a
        :class:`ResumeError` if not), by one comparison of their digests when all match."""
        statuses = bytes(self.status[start : start + len(jobs)]).ljust(len(jobs), b"\0")
        if statuses.count(0) == len(jobs):
            return statuses
        recorded = self.digests[8 * start : 8 * start + 8 * len(jobs)]
        regenerated = b"".join(map(_FIRST_8, job_digests(jobs)))[: len(recorded)]
        if regenerated == recorded:
            return statuses
        for index, code in enumerate(statuses):
            at = slice(8 * index, 8 * index + 8)
            if code and regenerated[at] != recorded[at]:
                raise ResumeError(
                    f"the sweep regenerated job #{start + index} as "
                    f"{' '.join(jobs[index])!r}, but the journal records another job under "
                    "that number: the entrypoints, the command line or the filters changed "
                    "since the sweep ran. Nothing was launched."
                )
        return statuses


_FIRST_8 = operator.itemgetter(slice(0, 8))
_STATUS_BYTES = {b"c": COMPLETED, b"f": FAILED, b"s": STARTED}  # by first letter
_DIGEST = re.compile(r"[0-9a-f]{32}\Z")
MAX_JOBS = 10**8  # a job number past this is a corrupt line, not a sweep


# The head of a job line as JournalCallback writes it, led by the newline that ends the
# line before: the job's number, its status and the first half of its 32-digit digest (the
# 8 bytes kept; unhexlify checks they are hex digits).
_JOB_HEAD = re.compile(
    rb'\n\{"job": (\d{1,9}), "status": "([cfs])(?:ompleted|ailed|tarted)", "digest": "(.{16}).{16}"'
)
_STRICT_HEAD = re.compile(
    rb'\{"job": (\d{1,9}), "status": "([cfs])(?:ompleted|ailed|tarted)", '
    rb'"digest": "([0-9a-f]{16})[0-9a-f]{16}"'
)
# A line that does not start as a job line, led by its newline.
_OTHER_LINE = re.compile(rb'\n(?!\{"job": )([^\n]*)(?=\n)')
_BLOCK = 1 << 21  # bytes of journal read at once
_NUMBER, _STATUS_TEXT, _DIGEST_HEX = (operator.itemgetter(i) for i in range(3))


def read(path: Path) -> JournalState:
    """The state a journal file records. A torn line (a writer killed mid-write) is skipped
    with a warning; any other line that is not a run or job line as written is a
    :class:`JournalError` naming its number.

    The journal is read a block of whole lines at a time: its job lines are found and
    recorded by C-level passes over the block (:meth:`JournalState.record_lines`), its
    other lines one by one."""
    state = JournalState()
    line = 1  # the number of the block's first line
    read = 0
    with open(path, "rb") as f:
        for lines in whole_lines(f):
            line = _read_block(path, state, b"\n" + lines, line)
            read += len(lines)
        f.seek(read)
        rest = f.read()
    if rest:  # a last line with no newline: torn, or written whole by an older writer
        _read_other(path, state, line, rest)
    return state


def whole_lines(f: BinaryIO) -> Iterator[bytes]:
    """Blocks of whole lines of ``f`` from where it is, each ending with a newline, about
    :data:`_BLOCK` bytes each; a last line with no newline (being written, or torn) is not
    among them.

    >>> import io
    >>> list(whole_lines(io.BytesIO(b"a\\nb\\nc")))
    [b'a\\nb\\n']
    """
    rest = b""
    for data in iter(lambda: f.read(_BLOCK), b""):
        data = rest + data
        whole = data.rfind(b"\n") + 1
        rest = data[whole:]
        if whole:
            yield data[:whole]


def _read_block(path: Path, state: JournalState, block: bytes, line: int) -> int:
    """Record the lines of ``block`` (whole lines, each led by a newline), the first of which
    is line number ``line``: the runs of job lines by :func:`_read_job_lines`, the other
    lines (a run, a done line, an adaptive sweep's draws) one by one, in order. Returns the
    number of the line after them."""
    at = 0  # the newline that leads the lines not read yet
    for other in _OTHER_LINE.finditer(block):
        if other.start() > at:
            line = _read_job_lines(path, state, block[at : other.start() + 1], line)
        _read_other(path, state, line, other[1] + b"\n")
        line += 1
        at = other.end()
    if at < len(block) - 1:
        line = _read_job_lines(path, state, block[at:], line)
    return line


def _read_job_lines(path: Path, state: JournalState, text: bytes, line: int) -> int:
    """Record lines that start as job lines (``text``: whole lines, each led by a newline;
    the first is line number ``line``); return the number of the line after them. By
    C-level passes when each is a job line as written, else (a torn line, a digest that is
    not hex) one by one."""
    heads = _JOB_HEAD.findall(text)
    count = text.count(b"\n") - 1
    if len(heads) == count and text.count(b"}\n") == count:
        try:
            _record_heads(path, state, heads, line, text)
            return line + count
        except binascii.Error:
            pass  # the lines one by one say which
    for number, raw in enumerate(text[1:-1].split(b"\n"), line):
        raw += b"\n"
        head = _STRICT_HEAD.match(raw)
        if head is not None and raw.endswith(b"}\n"):
            _record_heads(path, state, [head.groups()], number, b"\n" + raw)
        else:
            _read_other(path, state, number, raw)
    return line + count


def _record_heads(
    path: Path, state: JournalState, heads: List[Tuple[bytes, ...]], line: int, text: bytes
) -> None:
    """Record job lines from their heads (line ``line`` onwards of ``text``)."""
    numbers = list(map(int, map(_NUMBER, heads)))
    if max(numbers) >= MAX_JOBS:
        index = next(i for i, number in enumerate(numbers) if number >= MAX_JOBS)
        number = numbers[index]
        raise JournalError(f"{path}, line {line + index}: job number {number} is not a job's")
    statuses = list(map(_STATUS_BYTES.__getitem__, map(_STATUS_TEXT, heads)))
    for number in state.record_lines(numbers, statuses, list(map(_DIGEST_HEX, heads))):
        head = b'\n{"job": %d, "status": "started"' % number
        begin = text.rindex(head) + 1
        state.started[number] = text[begin : text.index(b"\n", begin) + 1]


def _read_other(path: Path, state: JournalState, number: int, raw: bytes) -> None:
    """Record line ``number`` of the journal, which is not a job line as written."""
    record = _parse(path, number, raw)
    if record is None:
        return
    if "run" in record:
        state.runs.append(record)
        state.finished = False
    elif "done" in record:
        state.finished = record.get("failed") == 0
    elif "job" in record:  # not an adaptive sweep's draws or learnt results
        job, status = record["job"], _STATUS[record["status"]]
        if state.record_lines([job], [status], [record["digest"][:16].encode()]):
            state.started[job] = raw


def _parse(path: Path, number: int, raw: bytes) -> Optional[Dict[str, Any]]:
    """A line that is not a job line's usual head, checked: a run line or a job line, or
    ``None`` for a torn line (skipped with a warning)."""
    where = f"{path}, line {number}"
    text = raw.decode("utf-8", "replace").strip()[:80]
    try:
        record = json.loads(raw)
    except (ValueError, RecursionError):
        if raw.startswith(b"{") and not raw.rstrip().endswith(b"}"):
            log.warning(f"{where} is torn (a writer was killed while writing it): skipped")
            return None
        raise JournalError(f"{where} is not JSON: {text!r}") from None
    if not isinstance(record, dict):
        raise JournalError(f"{where} is {text!r}, not a run or job record")
    if "run" in record:
        if type(record["run"]) is not int:
            raise JournalError(f"{where}: run {record['run']!r} is not a run number")
        return record
    if "done" in record or "drawn" in record or "learnt" in record:
        return record
    if "job" not in record:
        raise JournalError(f"{where} is neither a run nor a job record: {text!r}")
    job, status, digest = record["job"], record.get("status"), record.get("digest")
    if type(job) is not int or not 0 <= job < MAX_JOBS:
        raise JournalError(f"{where}: job {job!r} is not a job number")
    if status not in _STATUS:
        raise JournalError(f"{where}: job #{job} has status {status!r}")
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise JournalError(f"{where}: job #{job} has digest {digest!r}, not 32 hex digits")
    return record


def check_journal(
    sweep_dir: Path, sweep: Dict[str, Any], settings: Dict[str, Any], resume: bool
) -> Optional[JournalState]:
    """The state of the sweep dir's journal, checked for this run; ``None`` if there is none
    (a new sweep). :class:`ResumeError` when this run must not go on: a resume without a
    journal, or of another sweep; a new sweep in a dir that holds one (unless it is a new
    shard of the same sweep); shards whose batches would not be cut the same way."""
    path = sweep_dir / FILENAME
    if not path.exists():
        if resume:
            raise ResumeError(
                f"hydra.sweeper.resume=true, but there is no {path}: point hydra.sweep.dir at "
                "the sweep to resume"
            )
        return None
    state = read(path)
    if {run.get("fingerprint") for run in state.runs} - {fingerprint(sweep)}:
        recorded = state.runs[0].get("sweep") if state.runs else None
        raise ResumeError(
            f"{path} records another sweep: {recorded}; this one is {sweep}. Nothing was "
            "launched: choose another hydra.sweep.dir for this sweep."
        )
    sharded = settings["num_shards"] > 1
    if sharded:  # the shards must agree with each other (a run without shards may differ)
        for run in (r for r in state.runs if (r.get("num_shards") or 1) > 1):
            theirs = {k: run.get(k) for k in ("max_batch_size", "num_shards")}
            ours = {k: settings[k] for k in theirs}
            if theirs != ours:
                raise ResumeError(
                    f"{path}: run {run.get('run')} of this sweep had {_settings(theirs)}, this "
                    f"one has {_settings(ours)}: shards must cut the sweep into the same "
                    "batches, or jobs would run twice or never. Nothing was launched."
                )
    if not resume:
        mine = [r for r in state.runs if r.get("shard_index", 0) == settings["shard_index"]]
        if not sharded and state.finished and not state.started:
            # The same sweep, run to its end: running it again is what BasicSweeper does
            # (Hydra's own tests do it). Its journal is kept aside; outputs are overwritten.
            kept = _set_aside(path)
            log.warning(
                f"{sweep_dir} holds this sweep, run to its end: running it again, over its "
                f"outputs (its journal is kept as {kept.name})"
            )
            return None
        if not sharded or mine:
            raise ResumeError(
                f"{sweep_dir} already holds a sweep's journal ({path}): starting again would "
                "run every job again into the same directories. Resume it with "
                "hydra.sweeper.resume=true, or choose another hydra.sweep.dir. Nothing was "
                "launched."
            )
    return state


def _set_aside(path: Path) -> Path:
    """Rename the journal ``journal.jsonl.<n>``, the first ``n`` not taken; return it."""
    number = 1
    while path.with_name(f"{path.name}.{number}").exists():
        number += 1
    kept = path.with_name(f"{path.name}.{number}")
    os.rename(path, kept)
    return kept


def finish_journal(path: Path, completed: int, failed: int, skipped: int) -> None:
    """Append the line that says this run ran to its end."""
    append(path, {"done": True, "completed": completed, "failed": failed, "skipped": skipped})


def _settings(settings: Dict[str, Any]) -> str:
    return ", ".join(f"hydra.sweeper.{k}={v}" for k, v in settings.items())


def running_elsewhere(state: JournalState) -> List[Tuple[int, str]]:
    """The jobs the journal says started and have not ended, that may still be running: on
    this host, their process is alive; on another host, nothing here can tell. Each with
    where it runs."""
    here = socket.gethostname()
    running = []
    for job, raw in sorted(state.started.items()):
        try:
            record = json.loads(raw)
            host, pid = record.get("host"), record.get("pid")
        except ValueError:
            host, pid = None, None
        if host == here and isinstance(pid, int) and not _alive(pid):
            continue  # its process is gone: it died with it
        where = f"pid {pid} on this host" if host == here else f"pid {pid} on host {host}"
        running.append((job, where))
    return running


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (a zombie, killed and not yet reaped, does
    not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass  # it exists, and is another user's
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc to tell: alive
    return state not in (b"Z", b"X")


def start_journal(
    sweep_dir: Path,
    sweep: Dict[str, Any],
    settings: Dict[str, Any],
    state: Optional[JournalState],
    resume: bool,
) -> Path:
    """Append this run's line to the sweep's journal (``state``: what it held); return
    the journal's path."""
    from . import __version__

    path = sweep_dir / FILENAME
    append(
        path,
        {
            "run": len(state.runs) + 1 if state is not None else 1,
            "resume": resume,
            "fingerprint": fingerprint(sweep),
            "version": __version__,
            **settings,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "sweep": sweep,
        },
    )
    return path


def resume_batches(
    batches: Iterable[Tuple[int, Sequence[Sequence[str]]]], state: JournalState, size: Optional[int]
) -> Iterator[Tuple[int, List[Sequence[str]]]]:
    """The batches left to run: the journal's completed jobs skipped, the others (failed,
    never finished) run under their own numbers, in batches of consecutive numbers that
    stay within the original batches.

    Every job the journal records is checked against the regenerated stream before
    anything is yielded, so a changed sweep fails before any launch.

    >>> state = JournalState()
    >>> for n in (0, 1, 3): state.record(n, job_digest([f"a={n}"]), COMPLETED)
    >>> batches = [(0, [["a=0"], ["a=1"]]), (2, [["a=2"], ["a=3"]]), (4, [["a=4"], ["a=5"]])]
    >>> list(resume_batches(batches, state, 2))
    [(2, [['a=2']]), (4, [['a=4'], ['a=5']])]
    """
    pending: List[Tuple[int, Sequence[str]]] = []
    end = 0
    batches = iter(batches)
    for start, batch in batches:
        if start >= state.size:
            yield from consecutive_runs(pending, size)
            yield start, list(batch)
            yield from ((s, list(b)) for s, b in batches)
            return
        statuses = state.check(start, batch)
        completed = statuses.count(COMPLETED)
        state.skipped += completed
        if completed < len(batch):
            numbered = zip(itertools.count(start), batch)
            pending.extend(itertools.compress(numbered, map(COMPLETED.__ne__, statuses)))
        end = start + len(batch)
    if any(state.status[end:]):
        raise ResumeError(
            f"the journal records jobs up to #{state.size - 1}, but the sweep now has only "
            f"{end} jobs: the entrypoints, the command line or the filters changed since the "
            "sweep ran. Nothing was launched."
        )
    yield from consecutive_runs(pending, size)


def consecutive_runs(
    jobs: Iterable[Tuple[int, Sequence[str]]], size: Optional[int]
) -> Iterator[Tuple[int, List[Sequence[str]]]]:
    """Numbered jobs as batches of consecutive numbers within the batches of ``size``
    (jobs ``k * size`` to ``(k + 1) * size - 1``), so that each stays in its own batch.

    >>> list(consecutive_runs([(2, "c"), (3, "d"), (4, "e"), (7, "h")], 4))
    [(2, ['c', 'd']), (4, ['e']), (7, ['h'])]
    """
    start, batch = 0, []  # type: Tuple[int, List[Sequence[str]]]
    for number, job in jobs:
        if batch and (number != start + len(batch) or (size and number % size == 0)):
            yield start, batch
            batch = []
        if not batch:
            start = number
        batch.append(job)
    if batch:
        yield start, batch


class SweepBusy(PythonSweeperError):
    """Another process runs this sweep dir's shard."""


def take_lock(sweep_dir: Path, shard_index: int) -> Any:
    """Own this shard of the sweep dir for as long as the returned file stays open: an
    exclusive ``flock`` on ``.shard-<i>.lock``, which the system releases when the process
    ends however it ends. :class:`SweepBusy`, saying who holds it, if another process does.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        return None
    path = sweep_dir / f".shard-{shard_index}.lock"
    handle = open(os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644), "r+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = handle.read().strip() or "another process"
        handle.close()
        shard = f" (shard index {shard_index})" if shard_index else ""
        raise SweepBusy(
            f"{sweep_dir}{shard} is being run by {holder}: a second process would run its "
            "jobs again. Nothing was launched; wait for it to end (or stop it), then resume "
            "with hydra.sweeper.resume=true."
        ) from None
    handle.truncate(0)
    handle.write(f"pid {os.getpid()} on host {socket.gethostname()}, since {time.ctime()}\n")
    handle.flush()
    return handle


# A job line that says how the job ended, at the start of a line (a newline before it: a
# pattern that starts with text is searched for at C speed, and a return value holding
# such text is written inside a line, never after its newline).
_END_HEAD = re.compile(rb'\n\{"job": (\d+), "status": "(?:completed|failed)"')


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
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            for lines in whole_lines(f):
                for number in map(int, _END_HEAD.findall(b"\n" + lines)):
                    if any(number in batch for batch in self.awaited):
                        self.ended.add(number)
                self.offset += len(lines)


#: The attribute :class:`JournalCallback` sets on a job's ``JobReturn`` once the job's end
#: line is in the journal (the return travels back to the sweeper from the job's process).
JOURNALED = "python_sweeper_journaled"
_JOURNALED = operator.attrgetter(JOURNALED)


def journaled(returns: Sequence[Any]) -> bool:
    """Whether every one of ``returns`` says its job's end line is in the journal.

    >>> from hydra.core.utils import JobReturn
    >>> marked, unmarked = JobReturn(), JobReturn()
    >>> setattr(marked, JOURNALED, True)
    >>> journaled([marked, marked]), journaled([marked, unmarked])
    (True, False)
    """
    try:
        return all(map(_JOURNALED, returns))
    except AttributeError:
        return False


def read_replay(path: Path, job: Any) -> Tuple[List[Any], List[int]]:
    """What an adaptive sweep's generator saw: the results in the order the sweeper learnt
    them (then the completed jobs it never learnt, their batch interrupted), and how many it
    had seen at each draw. ``job`` turns a job's override strings into its dict."""
    from ._results import Result

    ends: Dict[int, Dict[str, Any]] = {}
    recorded: List[Result] = []
    learnt: Set[int] = set()
    schedule: List[int] = []
    with open(path, "rb") as f:
        for raw in f:
            try:
                record = json.loads(raw)
            except ValueError:
                continue  # torn: read() has said so
            if "drawn" in record:
                if record["drawn"] == len(schedule):
                    schedule.append(int(record["seen"]))
            elif "learnt" in record:
                for number in record["learnt"]:
                    if number in ends:
                        recorded.append(_result(number, ends[number], job))
                        learnt.add(number)
            elif record.get("status") in ("completed", "failed"):
                ends[record["job"]] = record
    for number in sorted(set(ends) - learnt):
        if ends[number]["status"] == "completed":
            recorded.append(_result(number, ends[number], job))
    return recorded, schedule


def _result(number: int, record: Dict[str, Any], job: Any) -> Any:
    from ._results import Result

    return Result(number, job(record.get("overrides", [])), record["status"], record["return"])
