"""One pass over a sweep's journal, from its last line back to its first, for the report.

Read backwards, a job's first line met is its last one written: its latest attempt, which
alone counts (one byte a job remembers which jobs were met). Each job is seen once by the
tallies of :mod:`.tally`, so the pass keeps the same memory at a thousand jobs as at a
million; only the lines a view needs whole (the sampled jobs, the best ones, a failure's
examples) are parsed as JSON, and that after the pass::

    >>> import tempfile
    >>> from hydra_python_sweeper.journal.lines import job_line
    >>> from hydra_python_sweeper.journal.writer import append
    >>> sweep_dir = Path(tempfile.mkdtemp())
    >>> append(sweep_dir / "journal.jsonl", {"run": 1, "total": 3, "at": 0.0},
    ...        job_line(0, ["+a=0"], False, "E('x')", "0"), job_line(1, ["+a=1"], True, 2.5, "1"),
    ...        job_line(0, ["+a=0"], True, 1.5, "0"))
    >>> scan = scan_journal(sweep_dir)
    >>> scan.completed, scan.failed, scan.running, [job["number"] for job in scan.best]
    (2, 0, 0, [0, 1])
"""

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Dict, Iterator, List, Optional, Set, Tuple

from hydra_python_sweeper.errors import JournalError
from hydra_python_sweeper.journal.files import open_journal
from hydra_python_sweeper.journal.lines import FILENAME, MAX_JOBS
from hydra_python_sweeper.journal.parse import loads
from hydra_python_sweeper.journal.records import record
from hydra_python_sweeper.report.tally import Largest, LogHistogram, Lowest, TimeBins

_BLOCK = 1 << 22
_FLOAT = rb"(-?[0-9][0-9.eE+-]*)"
#: A job line: its number; a started line's ``s`` and time; an end line's first letter,
#: its return when a number, its start (or ``null``) and end. The job's own fields are
#: found where they are the line's own: a string escapes its quotes, so an override's text
#: never closes a quote, and ``started``/``ended`` are the line's last but its check.
_LINE = re.compile(
    rb'^\{"job": (\d{1,9}), "status": "(?:(s)tarted"[^\n]*?"at": '
    + _FLOAT
    + rb'|([cf])[^\n]*?"return": (?:('
    + _FLOAT[1:-1]
    + rb'|NaN|-?Infinity)(?=, "dir": ))?'
    + rb'[^\n]*"started": (null|'
    + _FLOAT[1:-1]
    + rb'), "ended": '
    + _FLOAT
    + rb")",
    re.M,
)
#: Jobs drawn on the timeline at most (the rest are sampled), and the longest always drawn.
TIMELINE = 2_000
LONGEST = 20
#: Completed jobs that returned a number kept for the plots against the parameters.
POINTS = 3_000


@dataclass
class Scan:
    """What the pass found. Times in seconds since the epoch; ``bins`` count, by time,
    the jobs' (latest attempts') starts and ends (``completed``, ``failed``)."""

    path: str
    origin: float
    bins: TimeBins
    completed: int = 0
    failed: int = 0
    running: int = 0
    adaptive: bool = False
    numeric: int = 0  # completed jobs that returned a number
    durations: Dict[str, LogHistogram] = field(default_factory=dict)
    timeline: List[Dict[str, Any]] = field(default_factory=list)  # the jobs drawn
    timeline_sampled: bool = False
    points: List[Dict[str, Any]] = field(default_factory=list)  # sampled numeric jobs
    points_sampled: bool = False
    best: List[Dict[str, Any]] = field(default_factory=list)  # best first
    examples: Dict[int, Dict[str, Any]] = field(default_factory=dict)  # wanted jobs
    last: Optional[float] = None  # the latest end


def scan_journal(
    sweep_dir: Path,
    best: int = 20,
    highest: bool = False,
    wanted: Set[int] = frozenset(),  # type: ignore[assignment]
) -> Scan:
    """The report's pass over ``sweep_dir``'s journal. ``best``: how many of the jobs
    that returned the lowest (``highest``: the highest) numbers to keep; ``wanted``: job
    numbers whose last line to keep whole (a failure's examples)."""
    path = Path(sweep_dir) / FILENAME
    if not path.is_file():
        raise JournalError(f"there is no journal in {sweep_dir} ({path} is not a file)")
    with open_journal(path) as f:
        origin = _first_time(f)
        scan = Scan(str(path), origin or 0.0, TimeBins(origin or 0.0))
        scan.durations = {"completed": LogHistogram(), "failed": LogHistogram()}
        met = bytearray()
        drawn: Lowest[Tuple[int, bytes]] = Lowest(TIMELINE)
        longest: Largest[Tuple[int, bytes]] = Largest(LONGEST)
        points: Lowest[Tuple[int, bytes]] = Lowest(POINTS)
        top: Largest[Tuple[int, bytes]] = Largest(best)
        examples: Dict[int, bytes] = {}
        sign = 1.0 if highest else -1.0
        for block in blocks_backwards(f):
            scan.adaptive = scan.adaptive or b'{"drawn": ' in block
            # the latest attempts of the block's jobs not met in a later block: matches
            kept = []
            for match in reversed(list(_LINE.finditer(block))):
                number = int(match[1])
                if number >= len(met):
                    if number >= MAX_JOBS:
                        continue
                    met.extend(bytes(number + 1 - len(met) + (len(met) >> 1)))
                if not met[number]:  # else a later line of the job was met: this attempt is over
                    met[number] = 1
                    kept.append(match)
            _tally(scan, kept)
            for match in kept:
                number = int(match[1])
                rank = _priority(number)
                if rank < drawn.bar:
                    drawn.add(rank, (number, _whole(block, match)))
                if number in wanted:
                    examples[number] = _whole(block, match)
                if match[6] is not None and match[6] != b"null":
                    took = float(match[7]) - float(match[6])
                    if took > longest.bar:
                        longest.add(took, (number, _whole(block, match)))
                if match[5] is not None and match[4] == b"c":
                    returned = float(match[5])
                    if returned == returned:  # not NaN
                        if rank < points.bar:
                            points.add(rank, (number, _whole(block, match)))
                        if sign * returned > top.bar:
                            top.add(sign * returned, (number, _whole(block, match)))
    jobs = dict(drawn.items())
    jobs.update(longest.items())
    scan.timeline = sorted((_job(path, n, line) for n, line in jobs.items()), key=_start)
    scan.timeline_sampled = scan.completed + scan.failed + scan.running > TIMELINE
    scan.points = [_job(path, n, line) for n, line in sorted(points.items())]
    scan.points_sampled = scan.numeric > POINTS
    scan.best = [_job(path, n, line) for n, line in top.items()]
    scan.examples = {n: _job(path, n, line) for n, line in examples.items()}
    return scan


def _tally(scan: Scan, kept: List["re.Match[bytes]"]) -> None:
    """Count a block's latest attempts: by state, in time, by duration."""
    running = [float(m[3]) for m in kept if m[2] is not None]
    scan.running += sum(1 for m in kept if m[2] is not None)
    scan.bins.add_many(running, "started")
    for letter, status in ((b"c", "completed"), (b"f", "failed")):
        ends = [m for m in kept if m[4] == letter]
        setattr(scan, status, getattr(scan, status) + len(ends))
        ended = [float(m[7]) for m in ends]
        scan.bins.add_many(ended, status)
        if ended:
            scan.last = max(scan.last or ended[0], *ended)
        spans = [(float(m[6]), float(m[7])) for m in ends if m[6] != b"null"]
        scan.bins.add_many([start for start, _ in spans], "started")
        scan.durations[status].add_many([end - start for start, end in spans])
        if letter == b"c":
            scan.numeric += sum(1 for m in ends if m[5] is not None and m[5] != b"NaN")


def _whole(block: bytes, match: "re.Match[bytes]") -> bytes:
    """The whole line a match starts."""
    return block[match.start() : block.index(b"\n", match.start())]


def _priority(number: int) -> int:
    """A job's rank for the samples: its number scrambled (Knuth's multiplicative hash),
    so that the jobs kept are spread over the sweep, and the same ones at each report.

    >>> sorted(range(8), key=_priority)[:4] != [0, 1, 2, 3]
    True
    """
    return (number * 2654435761) & 0xFFFFFFFF


def _job(path: Path, number: int, line: bytes) -> Dict[str, Any]:
    """A job's last line as the report shows it: number, status, overrides (a dict),
    return, dir, host, started, ended."""
    return dict(vars(record(number, loads(line, f"{path}, the last line of job #{number}"))))


def _start(job: Dict[str, Any]) -> float:
    return job.get("started") or job.get("ended") or 0.0


def _first_time(f: BinaryIO) -> Optional[float]:
    """The journal's first time: its first run line's ``at``, or its first job's."""
    head = f.read(1 << 16)
    f.seek(0)
    found = re.search(rb'"(?:at|started)": (-?[0-9.e+-]+)', head)
    return float(found[1]) if found else None


def blocks_backwards(f: BinaryIO, block: int = _BLOCK) -> Iterator[bytes]:
    """Blocks of whole lines of ``f``, each ending with a newline, its last block first; a
    last line with no newline (being written, or torn) is not among them.

    >>> import io
    >>> list(blocks_backwards(io.BytesIO(b"a\\nbb\\n\\nccc\\ndd"), block=3))
    [b'\\nccc\\n', b'bb\\n', b'a\\n']
    """
    end = f.seek(0, os.SEEK_END)
    while end > 0:  # back to the end of the last whole line
        start = max(0, end - block)
        f.seek(start)
        newline = f.read(end - start).rfind(b"\n")
        if newline >= 0:
            end = start + newline + 1
            break
        end = start
    rest = b""
    while end > 0:
        start = max(0, end - block)
        f.seek(start)
        data = f.read(end - start) + rest
        end = start
        rest = b""
        if start > 0:  # the block's first line may begin in the block before it
            cut = data.find(b"\n") + 1
            rest, data = (data[:cut], data[cut:]) if cut else (data, b"")
        if data:
            yield data
