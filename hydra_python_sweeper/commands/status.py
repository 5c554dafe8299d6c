"""Where a sweep stands, from its journal alone: counts, pace, stragglers, failures, owner.

:func:`sweep_status` reads the journal once, a block at a time (the reader of a resume, and
one more C-level pass over the same blocks for the jobs' times and failures), and asks no
scheduler: whether the sweeper still runs is read from its lock. :func:`render` says it as
text, :func:`as_json` for scripts::

    >>> import tempfile
    >>> from hydra_python_sweeper.journal.lines import job_line
    >>> from hydra_python_sweeper.journal.writer import append
    >>> sweep_dir = Path(tempfile.mkdtemp())
    >>> append(sweep_dir / "journal.jsonl", {"run": 1, "total": 3, "argv": ["train.py", "-m"]},
    ...        job_line(0, ["+a=0"], True, 1, "0"), job_line(1, ["+a=1"], False, "E('x')", "1"))
    >>> status = sweep_status(sweep_dir)
    >>> status.completed, status.failed, status.running, status.not_launched
    (1, 1, 0, 1)
"""

import json
import operator
import re
import socket
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, TypeVar

from hydra_python_sweeper.cluster.driver import DRIVER_JOB
from hydra_python_sweeper.cluster.liveness import local_process
from hydra_python_sweeper.cluster.slurm import sweep_drivers
from hydra_python_sweeper.errors import JournalError
from hydra_python_sweeper.journal.admission import running_now
from hydra_python_sweeper.journal.files import check_regular
from hydra_python_sweeper.journal.lines import COMPLETED, FAILED, FILENAME
from hydra_python_sweeper.journal.parse import loads
from hydra_python_sweeper.journal.split_read import read_split
from hydra_python_sweeper.messages import COMMAND, plural, resume_command

T = TypeVar("T")
#: The recent pace is measured over this many seconds.
WINDOW = 600.0
#: A running job is a straggler once it has run this many times the median job.
STRAGGLER = 3.0
_TIMES = re.compile(rb'"started": (null|[0-9.]+), "ended": ([0-9.]+)')
#: How far a job's end time may be out of the journal's order (clocks, lock waits), at most.
SKEW = 3600.0
_SAMPLES = 20_000  # job durations kept for the median, at most
_TAIL = 1 << 14  # the bytes at a block's end whose end times say if it is recent
_SECOND = operator.itemgetter(1)


@dataclass
class Running:
    job: int
    where: str
    since: Optional[float]
    host: Optional[str] = None


@dataclass
class Status:
    """What :func:`sweep_status` found (times in seconds since the epoch)."""

    sweep_dir: str
    runs: int
    total: Optional[int]
    completed: int
    failed: int
    running: int
    not_launched: Optional[int]
    ended: bool
    first_start: Optional[float]
    last_end: Optional[float]
    recent_per_minute: float
    overall_per_minute: float
    eta_seconds: Optional[float]
    median_seconds: Optional[float]
    in_flight: List[Running] = field(default_factory=list)
    stragglers: List[Running] = field(default_factory=list)
    failures: List[Tuple[str, int, List[int]]] = field(default_factory=list)
    sweeper: List[str] = field(default_factory=list)
    #: A detached sweep's SLURM driver: its job and what SLURM says of it ("": none).
    driver: str = ""
    #: Whether SLURM has that driver queued or running.
    driver_alive: bool = False
    #: Jobs that started on this host and whose process is gone without an end line (killed,
    #: cancelled): not running; a resume runs them again.
    stopped: List[Running] = field(default_factory=list)
    resume: str = ""
    cancel: str = ""
    now: float = 0.0


class _Pass:
    """What the status reads from each block of the journal beside the reader's state."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.recent = 0
        self.first: Optional[float] = None
        self.last: Optional[float] = None
        self.durations: List[float] = []
        self.every = 1  # one duration kept in this many (halved as the sample grows)

    def __call__(self, block: bytes) -> None:
        # End lines are appended as their jobs end, so a block's end times rise with its
        # lines, give or take the hosts' clocks and the waits for the journal's lock (far
        # less than SKEW): its last lines tell whether any of it is recent. All of it is
        # read only then; the durations are sampled from its first lines.
        times = _TIMES.findall(block, max(0, len(block) - _TAIL))
        if times and float(times[-1][1]) >= self.now - WINDOW - SKEW:
            times = _TIMES.findall(block)
            self.recent += sum(float(t) >= self.now - WINDOW for _, t in times)
        if times:
            self.last = max(self.last or 0.0, *map(float, map(_SECOND, times)))
        sample = _TIMES.findall(block, 0, len(block) // self.every)
        pairs = [(float(s), float(e)) for s, e in sample if s != b"null"]
        self.durations.extend(e - s for s, e in pairs)
        if pairs and self.first is None:
            self.first = min(s for s, _ in pairs[:64])
        while len(self.durations) > _SAMPLES:
            self.durations, self.every = self.durations[::2], self.every * 2

    def merge(self, later: "_Pass") -> None:
        """Add what ``later`` read of the journal's lines after those this pass read."""
        self.recent += later.recent
        self.first = min(filter(None, [self.first, later.first]), default=None)
        self.last = max(filter(None, [self.last, later.last]), default=None)
        self.durations.extend(later.durations)


def sweep_status(sweep_dir: Path, now: Optional[float] = None) -> Status:
    """Where the sweep in ``sweep_dir`` stands, from its journal (and its locks)."""
    return status_and(sweep_dir, None, now)[0]


def status_and(
    sweep_dir: Path, also: Optional[T], now: Optional[float] = None
) -> Tuple[Status, Optional[T], Dict[int, bytes]]:
    """:func:`sweep_status`, with ``also`` (a callable with a ``merge`` method, as the
    status's own :class:`_Pass`) given each block of the journal in the same pass, one copy
    a part of the journal, merged in order; and the failed jobs' last lines, by job."""
    path = Path(sweep_dir) / FILENAME
    check_regular(path)
    if not path.is_file():
        raise JournalError(f"there is no journal in {sweep_dir} ({path} is not a file)")
    now = time.time() if now is None else now
    state, scans = read_split(path, _Both(_Pass(now), also), failures=True, digests=False)
    scan = _Pass(now)
    extra = None
    for part in scans:
        assert part is not None
        scan.merge(part.status)
        if extra is None:
            extra = part.also
        elif part.also is not None:
            extra.merge(part.also)
    if extra is not None and hasattr(extra, "settle"):
        extra.settle(bytes(state.status))
    statuses = bytes(state.status)
    completed, failed = statuses.count(COMPLETED), statuses.count(FAILED)
    totals = [run["total"] for run in state.runs if isinstance(run.get("total"), int)]
    total = totals[-1] if totals else None
    starts = [run["at"] for run in state.runs if isinstance(run.get("at"), (int, float))]
    first = min([*starts, *([scan.first] if scan.first else [])], default=None)
    in_flight: List[Running] = []
    stopped: List[Running] = []
    for job, raw in sorted(state.started.items()):
        record = loads(raw, f"{path}, the started line of job #{job}")
        gone = _gone_here(record)
        (stopped if gone else in_flight).append(_running(record, job))
    median = statistics.median(scan.durations) if scan.durations else None
    stragglers = [
        job for job in in_flight
        if median and job.since and now - job.since > max(STRAGGLER * median, 10.0)
    ]  # fmt: skip
    recent = scan.recent / (min(WINDOW, now - first) / 60) if first and now > first else 0.0
    # jobs that ended, each once (a job run again, after a failure or lost, ends twice)
    until = scan.last if state.ended and scan.last else now  # an ended sweep's pace stays
    overall = (completed + failed) / ((until - first) / 60) if first and until > first else 0.0
    left = None if total is None else max(total - completed, 0)
    argv = next((r["argv"] for r in reversed(state.runs) if isinstance(r.get("argv"), list)), None)
    return (
        Status(
            sweep_dir=str(Path(sweep_dir).absolute()),
            runs=len(state.runs),
            total=total,
            completed=completed,
            failed=failed,
            running=len(in_flight),
            not_launched=None
            if total is None
            else max(total - len(statuses) + statuses.count(0), 0),
            ended=state.ended,
            first_start=first,
            last_end=scan.last,
            recent_per_minute=recent,
            overall_per_minute=overall,
            eta_seconds=None
            if left is None or not (recent or overall)
            else 60 * left / (recent or overall),
            median_seconds=median,
            in_flight=in_flight,
            stragglers=stragglers,
            stopped=stopped,
            failures=_by_error(path, state.failures or {}, statuses),
            sweeper=[holder for _, _, holder in running_now(Path(sweep_dir), -1)],
            **_driver(Path(sweep_dir)),
            resume=resume_command(Path(sweep_dir), argv),
            cancel=f"{COMMAND} cancel {Path(sweep_dir).absolute()}",
            now=now,
        ),
        extra,
        state.failures or {},
    )


class _Both:
    """The status's pass over each block, and another's (the report's), in one."""

    def __init__(self, status: _Pass, also: Any) -> None:
        self.status, self.also = status, also

    def __call__(self, block: bytes) -> None:
        self.status(block)
        if self.also is not None:
            self.also(block)


def _driver(sweep_dir: Path) -> Dict[str, Any]:
    """A detached sweep's SLURM driver, as SLURM has it: the jobs that carry the sweep's
    driver tag, from one ``squeue`` call (the only scheduler call the status makes), asked
    when the sweep was detached on SLURM (``driver.slurm`` is there)."""
    if not (sweep_dir / DRIVER_JOB).is_file():
        return {}
    drivers = sweep_drivers(sweep_dir)
    if drivers is None:
        return {"driver": "SLURM cannot be asked (squeue failed)"}
    if not drivers:
        return {"driver": "no SLURM job of this sweep's driver is queued or running"}
    shown = []
    for job in drivers:
        if job.state == "RUNNING":
            shown.append(f"SLURM job {job.job_id}, RUNNING on {job.where}")
        else:
            why = job.where.strip("()")
            waits = f" ({why})" if why and why != "None" else ""
            shown.append(f"SLURM job {job.job_id}, {job.state}{waits}")
    return {"driver": "; ".join(shown), "driver_alive": True}


def _gone_here(record: Dict[str, Any]) -> bool:
    """Whether a started line names a process of this host (outside SLURM) that is gone: no
    process under its pid, or another one than it recorded (a reused pid)."""
    process = local_process(record)
    return process is not None and not process.alive()


def _running(record: Dict[str, Any], job: int) -> Running:
    where = f"SLURM task {record['slurm']}" if record.get("slurm") else f"pid {record.get('pid')}"
    host = record.get("host")
    return Running(job, f"{where} on {host}", record.get("at"), host)


def _by_error(
    path: Path, failed: Dict[int, bytes], statuses: bytes
) -> List[Tuple[str, int, List[int]]]:
    """The failed jobs (those whose last line says so), grouped by their error: each with
    its count and its first job numbers, the most frequent first."""
    groups: Dict[str, List[int]] = {}
    for number in sorted(failed):
        if number < len(statuses) and statuses[number] == FAILED:
            record = loads(failed[number], f"{path}, the last line of job #{number}")
            error = str(record.get("return")).strip().splitlines()
            groups.setdefault((error or ["?"])[0][:200], []).append(number)
    ranked = sorted(groups.items(), key=lambda item: -len(item[1]))
    return [(error, len(numbers), numbers[:5]) for error, numbers in ranked]


def as_json(status: Status) -> str:
    return json.dumps(asdict(status), indent=2)


def render(status: Status) -> str:
    """The status as a user reads it."""
    s = status
    lines = [f"Sweep {s.sweep_dir}: {plural(s.runs, 'run')}, " + (
        "ended" if s.ended else "running" if s.sweeper
        else "waiting for its driver to start" if s.driver_alive
        else "not running (resume it below)"
    )]  # fmt: skip
    jobs = (
        f"{s.completed} of {s.total} completed"
        if s.total is not None
        else f"{s.completed} completed"
    )
    left = f", {s.not_launched} not yet launched" if s.not_launched is not None else ""
    lines.append(f"Jobs: {jobs}, {s.failed} failed, {s.running} running{left}")
    if s.stopped:
        shown = ", ".join(f"#{job.job}" for job in s.stopped[:10])
        more = f" and {len(s.stopped) - 10} more" if len(s.stopped) > 10 else ""
        lines.append(
            f"Stopped without an end: {shown}{more} (their process on this host is gone; "
            "a resume runs them again)"
        )
    pace = (
        f"Pace: {s.recent_per_minute:.1f} jobs/min over the last {WINDOW / 60:.0f} min, "
        f"{s.overall_per_minute:.1f} overall"
    )
    if s.median_seconds is not None:
        pace += f"; median job {_duration(s.median_seconds)}"
    if s.eta_seconds is not None and not s.ended:
        pace += f"; about {_duration(s.eta_seconds)} left at that pace"
    lines.append(pace)
    for job in s.in_flight[:10]:
        since = f" for {_duration(s.now - job.since)}" if job.since else ""
        lines.append(f"  running #{job.job}: {job.where}{since}")
    if len(s.in_flight) > 10:
        lines.append(f"  ... and {len(s.in_flight) - 10} more running")
    for job in s.stragglers[:10]:
        assert job.since is not None
        lines.append(
            f"Straggler #{job.job}: {job.where}, running for {_duration(s.now - job.since)} "
            f"(median job {_duration(s.median_seconds or 0)})"
        )
    if s.failures:
        lines.append("Failures by error:")
    for error, count, numbers in s.failures[:10]:
        first = ", ".join(f"#{n}" for n in numbers) + (", ..." if count > len(numbers) else "")
        lines.append(f"  {count} x {error} ({first})")
    owner = (
        "; ".join(s.sweeper) if s.sweeper else f"none running (checked on {socket.gethostname()})"
    )
    lines.append(f"Sweeper: {owner}")
    if s.driver:
        lines.append(f"Driver: {s.driver}")
    if not s.ended or s.failed:
        lines.append(f"To resume: {s.resume}")
    if s.sweeper or s.running:
        lines.append(f"To cancel: {s.cancel}")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    """
    >>> _duration(0.34), _duration(42.4), _duration(3725), _duration(200000)
    ('0.3 s', '42 s', '1 h 02 min', '2 d 7 h')
    """
    if seconds < 10:
        return f"{max(0.0, seconds):.1f} s"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"
