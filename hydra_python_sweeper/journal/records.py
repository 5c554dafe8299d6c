"""A sweep's jobs read back from its journal as records, one a job, in job order.

:func:`read_results` streams them: one pass over the journal notes where each job's last line
is (8 bytes a job), then each job's line is read in turn, so a million-job sweep is read in
flat memory. A job's last line decides: its end (the latest attempt's), or its start::

    >>> import tempfile
    >>> from hydra_python_sweeper.journal.lines import job_line
    >>> from hydra_python_sweeper.journal.writer import append
    >>> sweep_dir = Path(tempfile.mkdtemp())
    >>> append(sweep_dir / "journal.jsonl", job_line(1, ["+lr=0.1", "db=mysql"], True, 0.93, "1"),
    ...        job_line(0, ["+lr=0.01", "db=mysql"], False, "ValueError('nan')", "0"))
    >>> for r in read_results(sweep_dir):
    ...     print(r.number, r.status, r.overrides, r.returned)
    0 failed {'lr': 0.01, 'db': 'mysql'} ValueError('nan')
    1 completed {'lr': 0.1, 'db': 'mysql'} 0.93
"""

import functools
import math
import re
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Tuple, Union

from hydra_python_sweeper.errors import JournalError
from hydra_python_sweeper.journal.files import open_journal
from hydra_python_sweeper.journal.lines import FILENAME, JOB_HEAD
from hydra_python_sweeper.journal.parse import loads
from hydra_python_sweeper.journal.reader import whole_lines


@dataclass(frozen=True)
class JobRecord:
    """One job of a sweep, as its journal last records it. ``status``: ``completed``,
    ``failed``, or ``started`` (running, or lost with its process); times in seconds since
    the epoch (``None`` where the journal, or an older version's, does not say)."""

    number: int
    overrides: Dict[str, Any]
    status: str
    returned: Any
    dir: Optional[str]
    started: Optional[float]
    ended: Optional[float]
    host: Optional[str]

    FIELDS = ("number", "status", "overrides", "returned", "dir", "started", "ended", "host")


def read_results(sweep_dir: Union[str, Path]) -> Iterator[JobRecord]:
    """One :class:`JobRecord` per job of the sweep in ``sweep_dir``, in job order (the
    latest attempt of each): streamed, in flat memory whatever the sweep's size."""
    path = Path(sweep_dir) / FILENAME
    if not path.is_file():
        raise JournalError(f"there is no journal in {sweep_dir} ({path} is not a file)")
    offsets = last_lines(path)
    with open_journal(path) as f:
        for number, offset in enumerate(offsets):
            if offset:
                f.seek(offset - 1)
                yield record(number, loads(f.readline(), f"{path}, the last line of job #{number}"))


def last_lines(path: Path) -> "array[int]":
    """Where each job's last line starts in the journal, plus one (0: the journal has no
    line for that job), by job number."""
    offsets: array[int] = array("Q")
    at = 0
    with open_journal(path) as f:
        for block in whole_lines(f):
            text = b"\n" + block
            for match in JOB_HEAD.finditer(text):
                number = int(match[1])
                if number >= len(offsets):
                    offsets.extend(bytes(8 * (number + 1 - len(offsets))))  # zeros
                offsets[number] = at + match.start() + 1  # the line's start, plus one
            at += len(block)
    return offsets


def record(number: int, line: Dict[str, Any]) -> JobRecord:
    """Job ``number``'s record from its last journal line."""
    started = line.get("started", line.get("at"))
    return JobRecord(
        number=number,
        overrides=dict(map(override_value, line.get("overrides") or ())),
        status=line["status"],
        returned=line.get("return"),
        dir=line.get("dir"),
        started=started,
        ended=line.get("ended"),
        host=line.get("host"),
    )


_PLAIN = re.compile(r"[A-Za-z_][\w\-/.]*\Z")
_NUMBER = re.compile(r"-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?\Z")
_WORDS = {"true": True, "false": False, "null": None, "inf": math.inf, "-inf": -math.inf}


@functools.lru_cache(maxsize=1 << 16)
def override_value(override: str) -> Tuple[str, Any]:
    """An override string as its bare key and its value, as Hydra reads it (simple values
    directly, others by Hydra's parser).

    >>> override_value("+lr=1e-3"), override_value("db=mysql"), override_value("a=[1,'x y']")
    (('lr', 0.001), ('db', 'mysql'), ('a', [1, 'x y']))
    """
    key, _, text = override.partition("=")
    bare = key.lstrip("+~")
    if text.lower() in _WORDS:
        return bare, _WORDS[text.lower()]
    if _NUMBER.match(text):
        return bare, float(text) if any(c in text for c in ".eE") else int(text)
    if _PLAIN.match(text):
        return bare, text
    from hydra_python_sweeper.space.sources import plain

    parsed = _parser().parse_override(override)
    return parsed.get_key_element().lstrip("+~"), plain(parsed.value())


@functools.lru_cache(maxsize=1)
def _parser() -> Any:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create()
