"""The journal read back: what ran, as :class:`JournalState`, and the batches a resume runs.

The journal (:mod:`.lines`) is read a block of whole lines at a time: runs of job lines are
recorded by C-level passes into two compact arrays (9 bytes a job), other lines one by one
with their number, so that a corrupt line is one error naming it::

    >>> import tempfile
    >>> from hydra_python_sweeper.journal.writer import append
    >>> from hydra_python_sweeper.journal.lines import job_line
    >>> path = Path(tempfile.mkdtemp()) / "journal.jsonl"
    >>> append(path, job_line(0, ["a=0"], True, 1, "0"), job_line(1, ["a=1"], False, 2, "1"))
    >>> list(read(path).status)
    [1, 2]
"""

import binascii
import json
import operator
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    Any,
    BinaryIO,
    Callable,
    Dict,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
)

from hydra_python_sweeper.errors import JournalError, ResumeError
from hydra_python_sweeper.journal.files import open_journal
from hydra_python_sweeper.journal.lines import (
    FAILED,
    JOB_HEAD,
    MAX_JOBS,
    OTHER_LINE,
    STARTED,
    STATUS,
    STATUS_BYTES,
    STATUS_HEAD,
    STRICT_HEAD,
    all_whole,
    whole,
)
from hydra_python_sweeper.journal.parse import parse
from hydra_python_sweeper.space.stages import job_digests


@dataclass
class JournalState:
    """What a journal says: the runs, and per job number its digest's first 8 bytes and
    its status, in two compact arrays (9 bytes a job)."""

    runs: List[Dict[str, Any]] = field(default_factory=list)
    digests: bytearray = field(default_factory=bytearray)
    status: bytearray = field(default_factory=bytearray)
    skipped: int = 0
    #: How many lines say how a job ended (retries and attempts of a resume included).
    ends: int = 0
    #: When a dict (the status asks for it): the failed jobs' last end lines (no newline).
    failures: Optional[Dict[int, bytes]] = None
    #: Whether :attr:`digests` is kept (a resume checks them; the status does not).
    with_digests: bool = True
    #: The jobs whose last line says they started (and not how they ended): their lines.
    started: Dict[int, bytes] = field(default_factory=dict)
    #: Per shard of the sweep's latest layout (one shard: the sweep), the failures of its
    #: latest run that ran to its end (``None``: it has not; no run yet: no shard).
    shards: Dict[int, Optional[int]] = field(default_factory=dict)

    @property
    def ended(self) -> bool:
        """Whether every shard's latest run ran to its end (its done line), failures or not."""
        return bool(self.shards) and None not in self.shards.values()

    @property
    def finished(self) -> bool:
        """Whether every shard's latest run ran to its end with no job failed."""
        return bool(self.shards) and set(self.shards.values()) == {0}

    def begin(self, run: Dict[str, Any]) -> None:
        """A run line: its shard has not ended; a new layout of shards, none has."""
        shards = run.get("num_shards") or 1
        if len(self.shards) != shards:
            self.shards = dict.fromkeys(range(shards))
        self.shards[run.get("shard_index") or 0] = None

    def end(self, done: Dict[str, Any]) -> None:
        """A done line: its run's shard ended (an older done line names no run: the last)."""
        runs = [r for r in self.runs if r["run"] == done["done"]] or self.runs[-1:]
        if runs and len(self.shards) == (runs[-1].get("num_shards") or 1):
            self.shards[runs[-1].get("shard_index") or 0] = done.get("failed", 0)

    #: The journal's path (where it was read from), for messages.
    path: Optional[Path] = None
    #: Where a part of the journal is read apart from the lines before it
    #: (:mod:`.split_read`): its run, done and abandoned lines, with their line numbers
    #: within the part, kept here to be read in order after the parts before.
    deferred: Optional[List[Tuple[int, bytes]]] = None

    def where(self, number: int) -> str:
        """Where the journal records job ``number``'s last line, with its overrides: for a
        message (it reads the journal again)."""
        if self.path is None:
            return "the journal"
        head, found = b'{"job": %d, ' % number, None
        with open_journal(self.path) as f:
            for line_number, raw in enumerate(f, 1):
                if raw.startswith(head):
                    found = line_number, raw
        if found is None:
            return f"the journal {self.path}"
        try:
            overrides = json.loads(found[1]).get("overrides")
        except (ValueError, RecursionError):
            overrides = None
        shown = f" (as {' '.join(overrides)!r})" if isinstance(overrides, list) else ""
        return f"{self.path}, line {found[0]}{shown},"

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
            if self.with_digests:
                self.digests.extend(bytes(8 * (high - len(self.status))))
            self.status.extend(bytes(high - len(self.status)))
        if high - low == len(last):
            lines = list(map(last.__getitem__, range(low, high)))
            if self.with_digests:
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
                if self.with_digests:
                    digest = binascii.unhexlify(digests[line])
                    self.digests[8 * number : 8 * number + 8] = digest
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
                number = start + index
                raise ResumeError(
                    f"the sweep regenerated job #{number} as {' '.join(jobs[index])!r}, but "
                    f"{self.where(number)} records another job under that number. Either the "
                    "entrypoints, the command line or the filters changed since the sweep ran, "
                    "or an entrypoint does not yield the same jobs in the same order each time "
                    "it is called (a set, an unseeded random choice, a listing of files). "
                    "Nothing was launched."
                )
        return statuses


_FIRST_8 = operator.itemgetter(slice(0, 8))
_BLOCK = 1 << 21  # bytes of journal read at once
_NUMBER, _STATUS_TEXT, _DIGEST_HEX = (operator.itemgetter(i) for i in range(3))
#: A job line's status letter (:data:`STATUS_BYTES`) to its code, for ``bytes.translate``.
_STATUS_CODES = bytes(STATUS_BYTES.get(bytes([i]), 0) for i in range(256))


def read(
    path: Path,
    each_block: Optional[Callable[[bytes], None]] = None,
    failures: bool = False,
    digests: bool = True,
) -> JournalState:
    """The state a journal file records. A torn line (a writer killed mid-write) is skipped
    with a warning; any other line that is not a run or job line as written is a
    :class:`JournalError` naming its number.

    The journal is read a block of whole lines at a time: its job lines are found and
    recorded by C-level passes over the block (:meth:`JournalState.record_lines`), its
    other lines one by one."""
    state = JournalState(path=path, failures={} if failures else None, with_digests=digests)
    with open_journal(path) as f:
        line, read = read_blocks(path, state, f, 1, None, each_block)
        f.seek(read)
        rest = f.readline()  # (one line: any after it was appended since)
    if rest:  # a last line with no newline: torn, or written whole by an older writer
        _read_other(path, state, line, rest)
    return state


def read_more(path: Path, state: JournalState, offset: int) -> None:
    """Add to ``state`` the whole lines written to the journal from byte ``offset`` on (the
    jobs that started or ended since ``state`` was read)."""
    with open_journal(path) as f:
        f.seek(offset)
        read_blocks(path, state, f, 0)


def read_blocks(
    path: Path,
    state: JournalState,
    f: BinaryIO,
    line: int,
    limit: Optional[int] = None,
    each_block: Optional[Callable[[bytes], None]] = None,
) -> Tuple[int, int]:
    """Record in ``state`` the whole lines of ``f`` from where it is (up to ``limit`` bytes
    on), the first of which is line number ``line``, a block at a time, each block given to
    ``each_block`` too (another reader of the same blocks: the status). Returns the number
    of the line after them, and where they end in ``f``."""
    read = f.tell()
    for lines in whole_lines(f, limit):
        block = b"\n" + lines
        line = _read_block(path, state, block, line)
        if each_block is not None:
            each_block(block)
        read += len(lines)
    return line, read


def whole_lines(f: BinaryIO, limit: Optional[int] = None) -> Iterator[bytes]:
    """Blocks of whole lines of ``f`` from where it is (up to ``limit`` bytes on), each
    ending with a newline, about :data:`_BLOCK` bytes each; a last line with no newline
    (being written, or torn) is not among them.

    >>> import io
    >>> list(whole_lines(io.BytesIO(b"a\\nb\\nc"))), list(whole_lines(io.BytesIO(b"a\\nb\\n"), 2))
    ([b'a\\nb\\n'], [b'a\\n'])
    """
    rest = b""
    left = limit

    def more() -> bytes:
        nonlocal left
        if left is None:
            return f.read(_BLOCK)
        data = f.read(min(_BLOCK, left))
        left -= len(data)
        return data

    for data in iter(more, b""):
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
    for other in OTHER_LINE.finditer(block):
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
    lines = text[1:-1].split(b"\n")
    heads = (JOB_HEAD if state.with_digests else STATUS_HEAD).findall(text)
    if len(heads) == len(lines) and all_whole(lines):
        try:
            _record_heads(path, state, heads, line, text, lines)
            return line + len(lines)
        except binascii.Error:
            pass  # the lines one by one say which
    for number, raw in enumerate(lines, line):
        head = STRICT_HEAD.match(raw)
        if head is not None and whole(raw):
            _record_heads(path, state, [head.groups()], number, b"\n" + raw + b"\n", [raw])
        else:
            _read_other(path, state, number, raw + b"\n")
    return line + len(lines)


def _record_heads(
    path: Path,
    state: JournalState,
    heads: List[Tuple[bytes, ...]],
    line: int,
    text: bytes,
    lines: List[bytes],
) -> None:
    """Record job lines from their heads (line ``line`` onwards of ``text``, split as
    ``lines``)."""
    numbers = list(map(int, map(_NUMBER, heads)))
    if max(numbers) >= MAX_JOBS:
        index = next(i for i, number in enumerate(numbers) if number >= MAX_JOBS)
        number = numbers[index]
        raise JournalError(f"{path}, line {line + index}: job number {number} is not a job's")
    statuses = b"".join(map(_STATUS_TEXT, heads)).translate(_STATUS_CODES)
    state.ends += len(statuses) - statuses.count(STARTED)
    if state.failures is not None:
        at = statuses.find(FAILED)
        while at >= 0:
            state.failures[numbers[at]] = lines[at]
            at = statuses.find(FAILED, at + 1)
    digests = list(map(_DIGEST_HEX, heads)) if state.with_digests else []
    for number in state.record_lines(numbers, statuses, digests):
        head = b'\n{"job": %d, "status": "started"' % number
        begin = text.rindex(head) + 1
        raw = text[begin : text.index(b"\n", begin) + 1]
        parse(path, line + text.count(b"\n", 0, begin) - 1, raw)  # its fields, checked
        state.started[number] = raw


def _read_other(path: Path, state: JournalState, number: int, raw: bytes) -> None:
    """Record line ``number`` of the journal, which is not a job line as written."""
    record = parse(path, number, raw)
    if record is None:
        return
    if state.deferred is not None and (
        "done" in record or "run" in record or "abandoned" in record
    ):
        state.deferred.append((number, raw))
    elif "done" in record:
        state.end(record)
    elif "run" in record:
        record["_before"] = dict(state.shards)  # if it is abandoned
        record["_line"] = number
        state.runs.append(record)
        state.begin(record)
    elif "abandoned" in record:  # a run that launched nothing: as if it had not been
        for index in range(len(state.runs) - 1, -1, -1):
            if state.runs[index].get("run") == record["abandoned"]:
                state.shards = state.runs.pop(index)["_before"]
                break
    elif "job" in record:  # not an adaptive sweep's draws or learnt results
        job, status = record["job"], STATUS[record["status"]]
        state.ends += status != STARTED
        if status == FAILED and state.failures is not None:
            state.failures[job] = raw.rstrip(b"\n")
        if state.record_lines([job], [status], [record["digest"][:16].encode()]):
            state.started[job] = raw
