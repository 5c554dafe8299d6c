"""What the report shows of a sweep, read from its journal in one pass with the status's.

:func:`scan_sweep` runs the status (:func:`..commands.status.status_and`) with the report's
:class:`~.ends.EndTally` riding its pass: one read of the journal, in one process a part of
it, gives both. The lines a view needs whole (the sampled jobs, the best ones, a failure's
examples) are parsed after::

    >>> import tempfile
    >>> from hydra_python_sweeper.journal.lines import job_line
    >>> from hydra_python_sweeper.journal.writer import append
    >>> sweep_dir = Path(tempfile.mkdtemp())
    >>> append(sweep_dir / "journal.jsonl", {"run": 1, "total": 3, "at": 0.0},
    ...        job_line(0, ["+a=0"], False, "E('x')", "0"), job_line(1, ["+a=1"], True, 2.5, "1"),
    ...        job_line(0, ["+a=0"], True, 1.5, "0"))
    >>> status, scan = scan_sweep(sweep_dir)
    >>> scan.completed, scan.failed, [job["number"] for job in scan.best]
    (2, 0, [0, 1])
"""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from hydra_python_sweeper.commands.report.ends import POINTS, TIMELINE, EndTally
from hydra_python_sweeper.commands.report.tally import LogHistogram, TimeBins
from hydra_python_sweeper.errors import JournalError
from hydra_python_sweeper.journal.files import open_journal
from hydra_python_sweeper.journal.lines import FILENAME
from hydra_python_sweeper.journal.parse import loads
from hydra_python_sweeper.journal.records import record

#: A failure's jobs shown, at most.
EXAMPLES = 3


@dataclass
class Scan:
    """What the report found. Times in seconds since the epoch; ``bins`` count, by time,
    the jobs' (latest attempts') starts and ends (``completed``, ``failed``)."""

    path: str
    bins: TimeBins
    durations: Dict[str, LogHistogram]
    completed: int = 0
    failed: int = 0
    adaptive: bool = False
    numeric: int = 0  # completed jobs that returned a number
    last: Optional[float] = None  # the latest end
    timeline: List[Dict[str, Any]] = field(default_factory=list)  # the jobs drawn
    timeline_sampled: bool = False
    points: List[Dict[str, Any]] = field(default_factory=list)  # sampled numeric jobs
    points_sampled: bool = False
    best: List[Dict[str, Any]] = field(default_factory=list)  # best first
    examples: Dict[int, Dict[str, Any]] = field(default_factory=dict)  # failures' jobs


def scan_sweep(
    sweep_dir: Path, best: int = 20, highest: bool = False, now: Optional[float] = None
) -> Tuple[Any, Scan]:
    """The status of the sweep in ``sweep_dir`` and what the report shows of it. ``best``:
    how many of the jobs that returned the lowest (``highest``: the highest) numbers."""
    from hydra_python_sweeper.commands.status import status_and

    path = Path(sweep_dir) / FILENAME
    if not path.is_file():
        raise JournalError(f"there is no journal in {sweep_dir} ({path} is not a file)")
    with open_journal(path) as f:
        origin = _first_time(f.read(1 << 16)) or 0.0
    status, tally, failed = status_and(sweep_dir, EndTally(origin, best, highest), now)
    assert tally is not None
    for job in status.in_flight:  # the running jobs' starts (their end lines are to come)
        if job.since is not None:
            tally.bins.add(job.since, "started")
    scan = Scan(
        path=str(path), bins=tally.bins, durations=tally.durations,
        completed=tally.counts["completed"], failed=tally.counts["failed"],
        adaptive=tally.adaptive, numeric=tally.numeric, last=tally.last,
    )  # fmt: skip
    ended = dict(tally.drawn.items())
    ended.update(tally.longest.items())
    jobs = [_job(path, n, line) for n, line in ended.items()]
    for running, state in ((status.in_flight, "started"), (status.stopped, "stopped")):
        jobs += [_running(job, state) for job in running[:TIMELINE]]
    scan.timeline = sorted(jobs, key=_start)
    scan.timeline_sampled = tally.counts["completed"] + tally.counts["failed"] > TIMELINE
    scan.points = [_job(path, n, line) for n, line in sorted(tally.points.items())]
    scan.points_sampled = tally.numeric > POINTS
    scan.best = [_job(path, n, line) for n, line in tally.top.items()]
    for _, _, numbers in status.failures[:10]:
        for number in numbers[:EXAMPLES]:
            if number in failed:
                scan.examples[number] = _job(path, number, failed[number])
    return status, scan


def _job(path: Path, number: int, line: bytes) -> Dict[str, Any]:
    """A job's line as the report shows it: number, status, overrides (a dict), return,
    dir, host, started, ended."""
    return dict(vars(record(number, loads(line, f"{path}, a line of job #{number}"))))


def _running(job: Any, state: str) -> Dict[str, Any]:
    """A job with no end line yet, as :func:`_job` gives one (``stopped``: its process is
    gone without its end)."""
    return {"number": job.job, "status": state, "overrides": {}, "returned": None,
            "dir": None, "host": job.host, "started": job.since, "ended": None}  # fmt: skip


def _start(job: Dict[str, Any]) -> float:
    return job.get("started") or job.get("ended") or 0.0


def _first_time(head: bytes) -> Optional[float]:
    """The journal's first time, from its first lines: its first run line's ``at``, or its
    first job's start.

    >>> _first_time(b'{"run": 1, "at": 12.5}\\n{"job": 0, "status": "started", "at": 13.0}')
    12.5
    """
    found = re.search(rb'"(?:at|started)": (-?[0-9][0-9.eE+-]*)', head)
    return float(found[1]) if found else None
