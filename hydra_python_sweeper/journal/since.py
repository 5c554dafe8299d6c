"""What a launched batch's jobs wrote in the journal from a point on: their ends, their
starts (the journal's tail, read while the sweep runs, apart from the whole journal's
reading in :mod:`.reader`)."""

from pathlib import Path
from typing import Any, Container, Dict, Optional, Sequence

from hydra_python_sweeper.journal.files import open_journal
from hydra_python_sweeper.journal.lines import STARTED_HEAD, end_lines
from hydra_python_sweeper.journal.parse import loads
from hydra_python_sweeper.journal.reader import whole_lines

#: A completed job's line, as it starts.
_COMPLETED = b'{"job": %d, "status": "completed"'


def ended(path: Path, numbers: range, offset: int = 0) -> Dict[int, Dict[str, Any]]:
    """The end lines of jobs ``numbers`` written from byte ``offset`` of the journal on,
    parsed (the last of each job's); a line not whole or not JSON is not an end.

    >>> import tempfile
    >>> from hydra_python_sweeper.journal.writer import append
    >>> from hydra_python_sweeper.journal.lines import job_line
    >>> path = Path(tempfile.mkdtemp()) / "journal.jsonl"
    >>> append(path, job_line(3, ["a=3"], True, 9, "3"), job_line(5, ["a=5"], False, "E", "5"))
    >>> {number: line["status"] for number, line in ended(path, range(4, 6)).items()}
    {5: 'failed'}
    """
    found: Dict[int, Dict[str, Any]] = {}
    ends_since(path, numbers, offset, found)
    return found


def started_since(
    path: Path, numbers: Container[int], offset: int = 0
) -> Dict[int, Dict[str, Any]]:
    """The last started line of each job of ``numbers`` from byte ``offset`` of the journal
    on, parsed (where it ran: its SLURM task, its node...).

    >>> import tempfile
    >>> from hydra_python_sweeper.journal.writer import append
    >>> from hydra_python_sweeper.journal.lines import started_line
    >>> path = Path(tempfile.mkdtemp()) / "journal.jsonl"
    >>> append(path, started_line(3, ["a=3"]), started_line(5, ["a=5"]))
    >>> {number: line["status"] for number, line in started_since(path, range(4, 9)).items()}
    {5: 'started'}
    """
    found: Dict[int, Dict[str, Any]] = {}
    with open_journal(path) as f:
        f.seek(offset)
        for lines in whole_lines(f):
            lines = b"\n" + lines
            for match in STARTED_HEAD.finditer(lines):
                number = int(match[1])
                if number in numbers:
                    line = lines[match.start() + 1 : lines.find(b"\n", match.end())]
                    found[number] = loads(line, f"{path}, the started line of job #{number}")
    return found


def ends_since(
    path: Path,
    numbers: Container[int],
    offset: int,
    found: Dict[int, Dict[str, Any]],
    fields: Optional[Sequence[str]] = None,
    values: bool = True,
) -> int:
    """Add to ``found`` the end lines of jobs ``numbers`` written from byte ``offset`` of the
    journal on (as :func:`ended`; ``fields``: only those of each line, which keeps a big
    batch's ends small); return where its whole lines end, to read on from. Without
    ``values``, a completed job's line is not parsed: its head says its status (the line
    checked whole), its return is not read.

    >>> import tempfile
    >>> from hydra_python_sweeper.journal.writer import append
    >>> from hydra_python_sweeper.journal.lines import job_line
    >>> path = Path(tempfile.mkdtemp()) / "journal.jsonl"
    >>> append(path, job_line(3, ["a=3"], True, 9, "3"), job_line(4, ["a=4"], False, "E", "4"))
    >>> found = {}
    >>> _ = ends_since(path, range(5), 0, found, ("status", "return"), values=False)
    >>> found
    {3: {'status': 'completed'}, 4: {'status': 'failed', 'return': 'E'}}
    """
    with open_journal(path) as f:
        f.seek(offset)
        for lines in whole_lines(f):
            offset += len(lines)
            for number, line in end_lines(b"\n" + lines):
                if number in numbers:
                    if not values and line.startswith(_COMPLETED % number):
                        found[number] = {"status": "completed"}
                        continue
                    record = loads(line, f"{path}, the end line of job #{number}")
                    found[number] = record if fields is None else {k: record.get(k) for k in fields}
    return offset
