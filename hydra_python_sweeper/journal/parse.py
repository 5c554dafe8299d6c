"""A journal line parsed and checked before it is believed: JSON, whole, its fields' types.

The reader of a resume (:mod:`.reader`) takes the job lines it finds whole and as written
(:func:`.lines.whole`) by C-level passes; every other line comes here, one at a time, and
is either a record, nothing (a blank line, a torn one), or one :class:`JournalError` that
names the file and the line::

    >>> line = b'{"job": 1, "status": "started", "status": "failed"}'
    >>> parse(Path("journal.jsonl"), 7, line)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hydra_python_sweeper...JournalError: journal.jsonl, line 7 has the key 'status' twice: ...
"""

import json
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from hydra_python_sweeper.errors import JournalError
from hydra_python_sweeper.journal.lines import DIGEST, MAX_JOBS, STATUS, whole
from hydra_python_sweeper.space.stages import job_digest

log = logging.getLogger(__name__)


def parse(path: Path, number: int, raw: bytes) -> Optional[Dict[str, Any]]:
    """Line ``number`` of the journal at ``path`` (``raw``), checked: a run, done, abandoned,
    drawn, learnt or job record, or ``None`` for a blank line or a torn one (a writer killed
    mid-line; skipped with a warning). :class:`JournalError` naming the line for any other:
    not JSON, not as written (its check), a key twice, a field of the wrong type, a job's
    overrides that are not the ones its digest was made of.

    >>> parse(Path("j"), 4, b'{"done": true, "failed": 0}')
    {'done': True, 'failed': 0}
    """
    line = raw.rstrip(b"\r\n")
    if not line.strip():
        return None  # a blank line: nothing (no writer writes one; an editor may)
    where = f"{path}, line {number}"
    text = line.decode("utf-8", "replace").strip()[:80]
    check = whole(line)
    try:
        record = json.loads(line, object_pairs_hook=_one_of_each)
    except _TwiceError as twice:
        raise JournalError(f"{where} has the key {twice} twice: {text!r}") from None
    except (ValueError, RecursionError):
        if line.startswith(b"{") and not line.rstrip().endswith(b"}"):
            log.warning(f"{where} is torn (a writer was killed while writing it): skipped")
            return None
        raise JournalError(f"{where} is not JSON: {text!r}") from None
    if not isinstance(record, dict):
        raise JournalError(f"{where} is {text!r}, not a run or job record")
    if check is False:
        raise JournalError(
            f"{where} is not as it was written (its check does not match): the journal was "
            f"edited or damaged: {text!r}"
        )
    record.pop("check", None)
    problem = _invalid(record)
    if problem is not None:
        raise JournalError(f"{where}: {problem}")
    return record


class _TwiceError(ValueError):
    """A key that a journal line has twice."""


def _one_of_each(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    record = dict(pairs)
    if len(record) < len(pairs):
        keys = [key for key, _ in pairs]
        raise _TwiceError(repr(next(key for key in keys if keys.count(key) > 1)))
    return record


def _count(value: Any, low: int = 0, high: int = MAX_JOBS) -> bool:
    return type(value) is int and low <= value < high


def _invalid(record: Dict[str, Any]) -> Optional[str]:
    """What is wrong with a journal record's fields (``None``: nothing). Fields that older
    versions did not write may be missing; present, they have their type.

    >>> _invalid({"job": 2, "status": "started", "digest": "0" * 32, "pid": 10**30})
    'job #2 has pid 1000000000000000000000000000000, not a process id'
    """
    if "done" in record:
        counts = [record.get(key, 0) for key in ("completed", "failed", "skipped")]
        if record["done"] is not True and not _count(record["done"], 1):
            return f"a done line for run {record['done']!r}, not a run number"
        return None if all(map(_count, counts)) else "a done line whose counts are not counts"
    if "run" in record:
        if not _count(record["run"], 1):
            return f"run {record['run']!r} is not a run number"
        shards = record.get("num_shards", 1)
        wrong = [
            not isinstance(record.get("fingerprint", ""), str),
            not _count(shards, 1),
            not _count(record.get("shard_index", 0), 0, shards if _count(shards, 1) else 1),
            record.get("max_batch_size") is not None and not _count(record["max_batch_size"], 1),
        ]
        if any(wrong):
            return "a run line whose run number, fingerprint or batch settings are wrong"
        return None
    if "abandoned" in record:
        return None if _count(record["abandoned"], 1) else "an abandoned line with no run number"
    if "drawn" in record:
        ok = _count(record["drawn"]) and _count(record.get("seen", 0))
        return None if ok else "a drawn line whose batch or count is not a number"
    if "learnt" in record:
        learnt = record["learnt"]
        ok = isinstance(learnt, list) and all(map(_count, learnt))
        return None if ok else "a learnt line that is not a list of job numbers"
    if "job" not in record:
        return "it is neither a run nor a job record"
    job, status, digest = record["job"], record.get("status"), record.get("digest")
    if not _count(job):
        return f"job {job!r} is not a job number"
    if status not in STATUS:
        return f"job #{job} has status {status!r}"
    if not isinstance(digest, str) or not DIGEST.match(digest):
        return f"job #{job} has digest {digest!r}, not 32 hex digits"
    if not _count(record.get("pid", 1), 1, 2**31):
        return f"job #{job} has pid {record['pid']!r}, not a process id"
    if not _count(record.get("since", 0), 0, 2**63):
        return f"job #{job} has a process start {record['since']!r} that is not a count"
    if not isinstance(record.get("host", ""), str) or not isinstance(record.get("dir", ""), str):
        return f"job #{job} has a host or dir that is not a string"
    times = [record.get(key) for key in ("at", "started", "ended")]
    if not all(t is None or type(t) in (int, float) for t in times):
        return f"job #{job} has a time that is not a number"
    overrides = record.get("overrides")
    if overrides is not None:
        if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
            return f"job #{job} has overrides that are not a list of strings"
        if job_digest(overrides).hex() != digest:
            return f"job #{job}'s overrides are not the ones its digest was made of"
    return None


def loads(raw: bytes, where: str) -> Any:
    """A line the fast readers kept, as JSON: :class:`JournalError` naming ``where`` (the file
    and its line) if it is not JSON or is nested too deep to read.

    >>> loads(b'{"job": 1}', "j, line 2")
    {'job': 1}
    >>> loads(b"[" * 100000, "j, line 3")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hydra_python_sweeper.errors.JournalError: j, line 3 is not JSON (or nested too deep): '[[[[...
    """
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        text = raw.decode("utf-8", "replace").strip()[:80]
        raise JournalError(f"{where} is not JSON (or nested too deep): {text!r}") from None
