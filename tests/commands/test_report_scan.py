"""What the report counts of a sweep (:mod:`report.scan`, :mod:`report.ends`,
:mod:`report.tally`): each job once, by its latest attempt, the same whether the journal
is read in one process or in several parts, in memory that does not grow with the sweep."""

import json
import random
from pathlib import Path
from typing import Any, Dict, List

import pytest

from hydra_python_sweeper.commands.report import ends
from hydra_python_sweeper.commands.report.scan import scan_sweep
from hydra_python_sweeper.commands.report.tally import Largest, LogHistogram, Lowest, TimeBins
from hydra_python_sweeper.journal import split_read
from hydra_python_sweeper.journal.lines import encode, job_line, started_line


def journal(path: Path, jobs: List[Dict[str, Any]], torn: bytes = b"") -> None:
    with open(path, "wb") as f:
        f.write(encode({"run": 1, "total": 300, "at": 1000.0, "argv": ["t.py", "-m"]}))
        for job in jobs:
            f.write(encode(job))
        f.write(torn)


def last_states(path: Path) -> Dict[int, Dict[str, Any]]:
    """Each job's last line, each line parsed whole (a torn last line left out)."""
    text = path.read_bytes()
    last: Dict[int, Dict[str, Any]] = {}
    for line in text[: text.rfind(b"\n") + 1].splitlines():
        record = json.loads(line)
        if "job" in record:
            last[record["job"]] = record
    return last


@pytest.mark.parametrize("parts", [1, 2, 3])
def test_each_job_counts_once_by_its_latest_attempt(
    tmp_path: Path, parts: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Jobs failed then completed when run again, failed twice, failed then running again;
    returns of every kind; a torn last line; the journal read in 1 to 3 parts: the counts,
    the durations, the times and the best jobs as the journal's last lines have them."""
    monkeypatch.setattr(split_read, "LEAST", 0 if parts > 1 else 1 << 40)
    monkeypatch.setattr(split_read, "_cpus", lambda: parts)
    rng = random.Random(1)
    lines: List[Dict[str, Any]] = []
    for n in range(300):
        overrides = [f"+lr={rng.choice([0.1, 0.01])}", f"+seed={n}", "+name='a, \"b\"'"]
        start = 1000.0 + n
        if n % 10 == 3:  # failed first: run again below
            lines.append({**job_line(n, overrides, False, "ValueError('x')", f"o/{n}"),
                          "started": start, "ended": start + 0.5})  # fmt: skip
        if n % 50 == 49:  # failed, and running again now
            lines.append({**job_line(n, overrides, False, "E()", f"o/{n}"),
                          "started": start, "ended": start + 1})  # fmt: skip
            lines.append({**started_line(n, overrides), "at": start + 9, "pid": 1 << 30})
            continue
        returned: Any = [n, "x"] if n % 7 == 0 else {"loss": n} if n % 11 == 0 else n / 10
        lines.append({**job_line(n, overrides, n % 13 != 5, returned, f"o/{n}"),
                      "started": start + 2, "ended": start + 2 + n % 5})  # fmt: skip
    for n in (5, 18, 31):  # failed, and failed again at a resume's retry: a later part
        overrides = [f"+lr={rng.choice([0.1, 0.01])}", f"+seed={n}", "+name='a, \"b\"'"]
        lines.append({**job_line(n, overrides, False, "E(again)", f"o/{n}"),
                      "started": 5000.0, "ended": 5000.0 + n})  # fmt: skip
    path = tmp_path / "journal.jsonl"
    journal(path, lines, torn=b'{"job": 2, "status": "failed", "dig')
    status, scan = scan_sweep(tmp_path, best=3)
    last = last_states(path)
    ended = [r for r in last.values() if r["status"] != "started"]
    for state in ("completed", "failed"):
        assert getattr(scan, state) == getattr(status, state)
        assert getattr(scan, state) == sum(r["status"] == state for r in ended)
    durations = {
        s: sorted(r["ended"] - r["started"] for r in ended if r["status"] == s)
        for s in ("completed", "failed")
    }  # fmt: skip
    for state, histogram in scan.durations.items():
        assert sum(count for _, _, count in histogram.bins()) == len(durations[state])
        for low, high, count in histogram.bins():
            # (a job of no time counts in the first bin: the histogram's log scale)
            assert count == sum(low - 1e-9 <= max(d, 1e-3) < high for d in durations[state])
    for state in ("completed", "failed"):
        starts, counts = scan.bins.series(state)
        width = scan.bins.width
        for start, count in zip(starts, counts):
            assert count == sum(start <= r["ended"] < start + width
                                for r in ended if r["status"] == state)  # fmt: skip
    _, started = scan.bins.series("started")
    assert sum(started) == len(ended) + status.running  # not the stopped: no longer running
    numbers = sorted(
        (r["return"], r["job"]) for r in ended
        if r["status"] == "completed" and isinstance(r["return"], float)
    )  # fmt: skip
    assert scan.numeric == len(numbers)
    assert [job["number"] for job in scan.best] == [n for _, n in numbers[:3]]
    assert scan.best[0]["overrides"]["name"] == 'a, "b"'
    # the failures' examples: their own jobs, with their overrides
    assert scan.examples and all(
        job["status"] == "failed" and last[n]["status"] == "failed"
        for n, job in scan.examples.items()
    )  # fmt: skip


def test_end_lines_without_times_are_counted_not_drawn(tmp_path: Path) -> None:
    """An end line with no start or end time (an older version's) is counted, as the
    status counts it, and left out of what needs its times."""
    old = {k: v for k, v in job_line(0, ["+x=0"], True, 1.5, "0").items()
           if k not in ("started", "ended")}  # fmt: skip
    journal(tmp_path / "journal.jsonl", [old, job_line(1, ["+x=1"], True, 2.5, "1")])
    status, scan = scan_sweep(tmp_path)
    assert scan.completed == status.completed == 2
    assert [job["number"] for job in scan.best] == [1]


def test_the_samples_are_bounded_spread_and_the_same_at_each_report(tmp_path: Path) -> None:
    jobs = [
        {**job_line(n, [f"+x={n}"], True, float(n % 97), str(n)), "started": 1e3 + n,
         "ended": 1e3 + n + 1 + (n == 77) * 500}
        for n in range(ends.TIMELINE * 3)
    ]  # fmt: skip
    journal(tmp_path / "journal.jsonl", jobs)
    (_, first), (_, again) = scan_sweep(tmp_path), scan_sweep(tmp_path)
    assert len(first.points) == ends.POINTS and first.points_sampled
    assert first.timeline_sampled and ends.TIMELINE <= len(first.timeline)
    assert len(first.timeline) <= ends.TIMELINE + ends.LONGEST
    assert 77 in {job["number"] for job in first.timeline}  # the longest, always
    assert [j["number"] for j in first.points] == [j["number"] for j in again.points]
    spread = sorted(j["number"] for j in first.timeline)
    assert spread[0] < len(jobs) // 10 and spread[-1] > len(jobs) * 9 // 10


def test_the_tallies_keep_what_they_promise() -> None:
    rng = random.Random(0)
    times = [rng.uniform(0, 1000) for _ in range(5000)]
    one, left, right = TimeBins(0.0, most=8), TimeBins(0.0, most=8), TimeBins(0.0, most=8)
    one.add_many(times, "x")
    for t in times[:2500]:
        left.add(t, "x")
    right.add_many(times[2500:4000], "x")
    left.merge(right)
    left.add_many([*times[4000:], 5.0], "x")
    left.remove(5.0, "x")
    assert left.width == one.width and left.series("x") == one.series("x")
    starts, counts = one.series("x")
    assert len(starts) <= 8 and sum(counts) == 5000
    for start, count in zip(starts, counts):
        assert count == sum(start <= t < start + one.width for t in times)
    histogram = LogHistogram()
    histogram.add_many(times)
    assert sum(c for _, _, c in histogram.bins()) == 5000
    low: Lowest[int] = Lowest(10)
    top: Largest[int] = Largest(10)
    other_low: Lowest[int] = Lowest(10)
    other_top: Largest[int] = Largest(10)
    for x in rng.sample(range(10_000), 10_000):
        (low if x % 2 else other_low).add(x, x)
        (top if x % 2 else other_top).add(x, x)
    low.merge(other_low)
    top.merge(other_top)
    assert low.items() == list(range(10)) and top.items() == list(range(9999, 9989, -1))


def test_a_dir_without_a_journal_is_one_clear_error(tmp_path: Path) -> None:
    from hydra_python_sweeper.errors import JournalError

    with pytest.raises(JournalError, match="there is no journal in"):
        scan_sweep(tmp_path)
