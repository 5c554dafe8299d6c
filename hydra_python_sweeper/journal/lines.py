"""The journal's line format: what each line of ``journal.jsonl`` holds, and how it is parsed.

The journal is a JSON-lines file in the sweep dir. Every line is one JSON object, appended
whole and fsynced (:mod:`.writer`), so a crash or a kill at any instant leaves every earlier
line readable. Each line ends with its own ``check`` (:func:`encode`), a digest of the text
before it: a line counts only when it is whole and as written (:func:`whole`), for the reader
of a resume and the watch of the batches in flight alike:

- a *run* line each time a sweep starts or resumes, with its batch settings
  (:func:`run_line`)::

    {"run": 1, "resume": false, "fingerprint": "9f0c...", "version": "0.2.0",
     "max_batch_size": 1000, "num_shards": 1, "shard_index": 0, "host": "login1",
     "pid": 4242, "sweep": {"entrypoints": [...], "arguments": [...], ...}}

- *job* lines, written from inside the job, whatever the launcher: when it starts (with
  the host and pid that run it, :func:`started_line`) and when it ends (:func:`job_line`),
  so the journal holds the jobs that completed inside a batch that was interrupted, and
  knows which jobs may still run::

    {"job": 12, "status": "started", "digest": "5d1e...", "host": "node3", "pid": 777}
    {"job": 12, "status": "completed", "digest": "5d1e...", "overrides": ["lr=0.1"],
     "return": 0.93, "dir": "multirun/2026-11-27/10-00-00/12"}

- an adaptive sweep's *drawn* and *learnt* lines (what its generator had seen at each draw,
  and the order results were learnt);
- a *done* line when a run reaches its end (:func:`done_line`, its run's number), or an
  *abandoned* line when
  it stopped before it launched anything (:func:`abandoned_line`).

``return`` is the task's return value when it is JSON-serialisable, else its ``repr`` (for
a failure, the exception's). A job's last line decides its status.

    >>> line = job_line(3, ["lr=0.1"], True, 0.5, "out/3")
    >>> line["status"], line["return"], len(line["digest"])
    ('completed', 0.5, 32)
    >>> JOB_HEAD.match(b"\\n" + encode(line))[1]
    b'3'
"""

import json
import operator
import os
import re
import socket
import sys
import time
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import xxhash

from hydra_python_sweeper.journal.origin import job_environment, this_process
from hydra_python_sweeper.space.stages import job_digest

FILENAME = "journal.jsonl"
COMPLETED, FAILED, STARTED = 1, 2, 3
STATUS = {"completed": COMPLETED, "failed": FAILED, "started": STARTED}
STATUS_BYTES = {b"c": COMPLETED, b"f": FAILED, b"s": STARTED}  # by first letter
MAX_JOBS = 10**8  # a job number past this is a corrupt line, not a sweep

# The head of a job line as it is written: the job's number, its status (its first letter
# captured) and its digest. One spelling for the reader's fast and strict passes and for
# the watch of the jobs in flight.
_NUMBER = rb'\{"job": (\d{1,9}), "status": "'
_ANY_STATUS = rb'([cfs])(?:ompleted|ailed|tarted)", "digest": "'
#: A job line's head, led by the newline that ends the line before (a pattern that starts
#: with text is searched for at C speed): number, status letter, the digest's first half.
JOB_HEAD = re.compile(rb"\n" + _NUMBER + _ANY_STATUS + rb'(.{16}).{16}"')
#: The same head without the digest, for a reader that needs no digests (the status).
STATUS_HEAD = re.compile(rb"\n" + _NUMBER + rb'([cfs])(?:ompleted|ailed|tarted)", ')
#: The same head at the start of one line, its digest's 32 hex digits checked.
STRICT_HEAD = re.compile(_NUMBER + _ANY_STATUS + rb'([0-9a-f]{16})[0-9a-f]{16}"')
#: The head of a line that says how a job ended, led by its newline: the job's number.
END_HEAD = re.compile(rb"\n" + _NUMBER + rb'(?:completed|failed)"')
#: The head of a job's started line, led by its newline: the job's number.
STARTED_HEAD = re.compile(rb"\n" + _NUMBER + rb'started"')
#: A line that does not start as a job line, led by its newline.
OTHER_LINE = re.compile(rb'\n(?!\{"job": )([^\n]*)(?=\n)')
DIGEST = re.compile(r"[0-9a-f]{32}\Z")  # a job line's digest

#: The attribute the journal's callback sets on a job's ``JobReturn`` once the job's end
#: line is in the journal (the return travels back to the sweeper from the job's process).
JOURNALED = "python_sweeper_journaled"
_JOURNALED = operator.attrgetter(JOURNALED)


_CHECK = b', "check": "'
_CHECKED = len(_CHECK) + 16 + 2  # the check's bytes at the end of a line: ', "check": "…"}'
_check = xxhash.xxh3_64_hexdigest
_BETWEEN = '"}, "check": "'  # from one line's check to the next's, in :func:`all_whole`


def encode(record: Dict[str, Any]) -> bytes:
    """``record`` as the journal's line: its JSON, then its check (a digest of the text
    before it), then a newline.

    >>> encode({"done": True})
    b'{"done": true, "check": "bb432998cd803e24"}\\n'
    """
    text = json.dumps(record, default=repr).encode()[:-1]
    return b'%s%s%s"}\n' % (text, _CHECK, _check(text).encode())


def whole(line: bytes) -> Optional[bool]:
    """Whether ``line`` (no newline) is whole and as written: its check matches (``True``),
    it has one that does not match, or was cut (``False``); ``None`` for a line with no check,
    as versions before 0.4 wrote them (its JSON decides).

    >>> line = encode({"done": True})[:-1]
    >>> whole(line), whole(line.replace(b"true", b"null")), whole(line[:30]), whole(b'{"a": 1}')
    (True, False, False, None)
    """
    if line[-_CHECKED:-18] != _CHECK:
        return False if _CHECK[:-2] in line and line.startswith(b"{") else None
    return _check(line[:-_CHECKED]).encode() == line[-18:-2]


def all_whole(lines: List[bytes]) -> bool:
    """Whether every one of ``lines`` (no newlines) is whole and as written, by C-level
    passes: each line's last bytes are exactly its check, the digest of the text before it.

    >>> lines = [encode({"a": 1})[:-1], encode({"b": 2})[:-1]]
    >>> all_whole(lines), all_whole([lines[0], lines[1].replace(b"2", b"3")])
    (True, False)
    """
    digests = _BETWEEN.join(map(_check, [line[:-_CHECKED] for line in lines])).encode()
    return b"".join([line[-_CHECKED:] for line in lines]) == b'%s%s"}' % (_CHECK, digests)


def end_lines(text: bytes) -> Iterator[Tuple[int, bytes]]:
    """The lines of ``text`` (whole lines, each led by a newline) that say how a job ended,
    as ``(job number, line)``, the line whole (:func:`whole`, or for a line with no check, its
    JSON): the one definition of a job's end that the watch and the reader share.

    >>> ended = encode(job_line(3, ["a=3"], True, 9, "3"))
    >>> [n for n, _ in end_lines(b"\\n" + ended + ended[:40] + b"\\n")]
    [3]
    """
    for match in END_HEAD.finditer(text):
        line = text[match.start() + 1 : text.index(b"\n", match.start() + 1)]
        check = whole(line)
        if check is None:
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):
                continue
            check = isinstance(record, dict) and record.get("job") == int(match[1])
        if check:
            yield int(match[1]), line


def fingerprint(sweep: Dict[str, Any]) -> str:
    """A digest of what defines the job stream: equal for the same sweep, run again.

    >>> fingerprint({"entrypoints": ["m.f"]}) == fingerprint({"entrypoints": ["m.f"]})
    True
    """
    return xxhash.xxh3_128_hexdigest(json.dumps(sweep, sort_keys=True, default=repr).encode())


def run_line(
    number: int, resume: bool, sweep: Dict[str, Any], settings: Dict[str, Any]
) -> Dict[str, Any]:
    """The line a run of the sweep starts with: its number, the sweep's fingerprint and
    description (``sweep``), its batch ``settings``, and who runs it."""
    from hydra_python_sweeper.version import __version__

    return {
        "run": number,
        "resume": resume,
        "fingerprint": fingerprint(sweep),
        "version": __version__,
        **settings,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "argv": list(sys.argv),
        "at": round(time.time(), 3),
        "sweep": sweep,
    }


def started_line(number: int, overrides: Sequence[str]) -> Dict[str, Any]:
    """The line a job writes when it starts, with the host and process that run it (the
    process's start time, ``since``, proves later that a process is still it:
    :mod:`.origin`; under SLURM, its array task, node and restart count), and when (``at``,
    seconds since the epoch)."""
    return {
        "job": number,
        "status": "started",
        "digest": job_digest(overrides).hex(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        **this_process(),
        **job_environment(),
        "at": round(time.time(), 3),
    }


def job_line(
    number: int,
    overrides: List[str],
    completed: bool,
    returned: Any,
    output_dir: str,
    started: Optional[float] = None,
) -> Dict[str, Any]:
    """The journal's line for a job that ended: with the host it ran on, when it started
    (when known) and when it ended (seconds since the epoch)."""
    return {
        "job": number,
        "status": "completed" if completed else "failed",
        "digest": job_digest(overrides).hex(),
        "overrides": overrides,
        "return": _returned(returned),
        "dir": output_dir,
        "host": socket.gethostname(),
        "started": None if started is None else round(started, 3),
        "ended": round(time.time(), 3),
    }


def done_line(run: int, completed: int, failed: int, skipped: int) -> Dict[str, Any]:
    """The line that says run ``run`` ran to its end (versions before 0.4 wrote ``true``
    for the run: the last one).

    >>> done_line(2, 3, 0, 1)
    {'done': 2, 'completed': 3, 'failed': 0, 'skipped': 1}
    """
    return {"done": run, "completed": completed, "failed": failed, "skipped": skipped}


def abandoned_line(run: int) -> Dict[str, Any]:
    """The line that says run ``run`` stopped before it handed any job to the launcher (a
    bad filter, a job that cannot be composed, Ctrl-C): the dir holds it as if it had not
    been, so that the corrected run is not taken for another sweep's.

    >>> abandoned_line(2)
    {'abandoned': 2}
    """
    return {"abandoned": run}


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
