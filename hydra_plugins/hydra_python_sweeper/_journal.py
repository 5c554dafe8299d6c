"""The sweep's journal: what ran, what finished, and how to resume the rest.

The journal is a JSON-lines file in the sweep dir, ``journal.jsonl``. Every line is one
JSON object, appended whole with one ``write`` and fsynced, so a crash or a kill at any
instant leaves every earlier line readable (a torn last line is ignored):

- a *run* line each time a sweep starts or resumes::

    {"run": 1, "resume": false, "fingerprint": "9f0c...", "version": "0.1.0",
     "sweep": {"entrypoints": [...], "arguments": [...], "params": {...}, ...}}

- a *job* line each time a job ends, written from inside the job by
  :class:`JournalCallback`, a Hydra callback, so it holds jobs that completed inside
  a batch that was interrupted, whatever the launcher::

    {"job": 12, "status": "completed", "digest": "5d1e...", "overrides": ["lr=0.1"],
     "return": 0.93, "dir": "multirun/2026-11-27/10-00-00/12"}

``status`` is ``completed`` or ``failed``; ``return`` is the task's return value when it is
JSON-serialisable, else its ``repr`` (for a failure, the exception's). A job's last line
decides its status.
"""

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import xxhash
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from ._errors import PythonSweeperError
from ._stages import job_digest

log = logging.getLogger(__name__)

FILENAME = "journal.jsonl"
COMPLETED, FAILED = 1, 2
_STATUS = {"completed": COMPLETED, "failed": FAILED}


class ResumeError(PythonSweeperError):
    """The journal cannot be resumed: missing, or the sweep it records is another."""


def append(path: Path, record: Dict[str, Any]) -> None:
    """Append one line, whole, to the journal at ``path``, and fsync it."""
    line = (json.dumps(record, default=repr) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def fingerprint(sweep: Dict[str, Any]) -> str:
    """A digest of what defines the job stream: equal for the same sweep, run again.

    >>> fingerprint({"entrypoints": ["m.f"]}) == fingerprint({"entrypoints": ["m.f"]})
    True
    """
    return xxhash.xxh3_128_hexdigest(json.dumps(sweep, sort_keys=True, default=repr).encode())


def _returned(value: Any) -> Any:
    """The return value as JSON if it is JSON-serialisable, else its ``repr``."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


class JournalCallback(Callback):
    """Records, from inside each job, how the job ended (Hydra's ``on_job_end``)."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        completed = job_return.status == JobStatus.COMPLETED
        overrides = list(job_return.overrides or [])
        append(
            self.path,
            {
                "job": int(config.hydra.job.num),
                "status": "completed" if completed else "failed",
                "digest": job_digest(overrides).hex(),
                "overrides": overrides,
                "return": _returned(job_return._return_value),
                "dir": str(config.hydra.runtime.output_dir),
            },
        )


@dataclass
class JournalState:
    """What a journal says: the runs, and per job number its digest's first 8 bytes and
    its status, in two compact arrays (9 bytes a job)."""

    runs: List[Dict[str, Any]] = field(default_factory=list)
    digests: bytearray = field(default_factory=bytearray)
    status: bytearray = field(default_factory=bytearray)
    skipped: int = 0

    @property
    def size(self) -> int:
        """One more than the highest job number recorded."""
        return len(self.status)

    def record(self, number: int, digest: bytes, status: int) -> None:
        """Record job ``number``'s status and the first 8 bytes of its digest."""
        size = len(self.status)
        if number == size:  # the common case: the journal's jobs come in order
            self.status.append(status)
            self.digests += digest[:8]
            return
        if number > size:
            self.status.extend(bytes(number + 1 - size))
            self.digests.extend(bytes(8 * (number + 1 - size)))
        self.digests[8 * number : 8 * number + 8] = digest[:8]
        self.status[number] = status

    def check(self, number: int, job: Sequence[str]) -> int:
        """The recorded status of job ``number`` (0: none); :class:`ResumeError` if the job
        regenerated under that number is not the one recorded."""
        if number >= self.size or not self.status[number]:
            return 0
        if job_digest(job)[:8] != self.digests[8 * number : 8 * number + 8]:
            raise ResumeError(
                f"the sweep regenerated job #{number} as {' '.join(job)!r}, but the journal "
                "records another job under that number: the entrypoints, the command line or "
                "the filters changed since the sweep ran. Nothing was launched."
            )
        return self.status[number]


# The head of a job line as JournalCallback writes it: read without parsing the rest.
_JOB_HEAD = re.compile(
    rb'\{"job": (\d+), "status": "(completed|failed)", "digest": "([0-9a-f]{32})"'
)
_STATUS_BYTES = {b"completed": COMPLETED, b"failed": FAILED}


def read(path: Path) -> JournalState:
    """The state a journal file records; a torn last line is ignored."""
    state = JournalState()
    with open(path, "rb") as f:
        for raw in f:
            head = _JOB_HEAD.match(raw)
            if head is not None and raw.endswith(b"}\n"):  # a whole line, as written
                digest = bytes.fromhex(head[3][:16].decode())  # the 8 bytes kept
                state.record(int(head[1]), digest, _STATUS_BYTES[head[2]])
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if "run" in record:
                state.runs.append(record)
            elif "job" in record and record.get("status") in _STATUS:
                state.record(
                    int(record["job"]), bytes.fromhex(record["digest"]), _STATUS[record["status"]]
                )
    return state


def check_journal(sweep_dir: Path, sweep: Dict[str, Any]) -> JournalState:
    """The state of the journal of the sweep to resume; :class:`ResumeError` if there is
    none, or if it records another sweep."""
    path = sweep_dir / FILENAME
    if not path.exists():
        raise ResumeError(
            f"hydra.sweeper.resume=true, but there is no {path}: point hydra.sweep.dir at the "
            "sweep to resume"
        )
    state = read(path)
    if {run.get("fingerprint") for run in state.runs} != {fingerprint(sweep)}:
        recorded = state.runs[0].get("sweep") if state.runs else None
        raise ResumeError(
            f"{path} records another sweep: {recorded}; this one is {sweep}. Nothing was launched."
        )
    return state


def start_journal(sweep_dir: Path, sweep: Dict[str, Any], resumed: Optional[JournalState]) -> Path:
    """Append this run's line to the sweep's journal (``resumed``: the state it held);
    return the journal's path."""
    path = sweep_dir / FILENAME
    append(
        path,
        {
            "run": len(resumed.runs) + 1 if resumed is not None else 1,
            "resume": resumed is not None,
            "fingerprint": fingerprint(sweep),
            "version": sweep.get("version"),
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
        for number, job in enumerate(batch, start):
            if state.check(number, job) == COMPLETED:
                state.skipped += 1
            else:
                pending.append((number, job))
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
