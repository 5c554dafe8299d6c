"""The report's pass over the journal (:mod:`report.scan`, :mod:`report.tally`): read
backwards, each job counted once by its latest attempt, in memory that does not grow with
the sweep."""

import io
import json
import random
from pathlib import Path
from typing import Any, Dict, List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hydra_python_sweeper.journal.lines import encode, job_line, started_line
from hydra_python_sweeper.report.scan import blocks_backwards, scan_journal
from hydra_python_sweeper.report.tally import Largest, Lowest, TimeBins


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), max_size=30),
    torn=st.binary(max_size=5).map(lambda b: b.replace(b"\n", b"")),
    block=st.integers(1, 40),
)
def test_blocks_backwards_are_the_whole_lines_last_first(
    lines: List[bytes], torn: bytes, block: int
) -> None:
    text = b"".join(line + b"\n" for line in lines)
    blocks = list(blocks_backwards(io.BytesIO(text + torn), block))
    assert all(b.endswith(b"\n") for b in blocks)
    assert b"".join(reversed(blocks)) == text  # the torn last line is not among them


def journal(path: Path, jobs: List[Dict[str, Any]]) -> None:
    with open(path, "wb") as f:
        f.write(encode({"run": 1, "total": len(jobs), "at": 1000.0, "argv": ["t.py", "-m"]}))
        for job in jobs:
            f.write(encode(job))


def independent_counts(path: Path) -> Dict[str, int]:
    """The jobs' states as their last lines say, each line parsed whole."""
    last: Dict[int, str] = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if "job" in record:
            last[record["job"]] = record["status"]
    return {s: list(last.values()).count(s) for s in ("completed", "failed", "started")}


@pytest.mark.parametrize("block", [64, 1 << 22])
def test_each_job_counts_once_by_its_latest_attempt(
    tmp_path: Path, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retried jobs (a failure then a completion, a completion then a rerun that is still
    running), returns of every kind, a torn last line: counts, best jobs and durations
    as a whole-line reading of the journal has them."""
    from hydra_python_sweeper.report import scan as module

    monkeypatch.setattr(module, "_BLOCK", block)
    rng = random.Random(1)
    lines: List[Dict[str, Any]] = []
    expected_durations = []
    for n in range(300):
        overrides = [f"+lr={rng.choice([0.1, 0.01])}", f"+seed={n}", "+name='a, \"b\"'"]
        start = 1000.0 + n
        if n % 10 == 3:  # failed, then completed when run again
            lines.append({**job_line(n, overrides, False, "ValueError('x')", f"o/{n}"),
                          "started": start, "ended": start + 1})  # fmt: skip
        returned: Any = [n, "x"] if n % 7 == 0 else {"loss": n} if n % 11 == 0 else n / 10
        lines.append({**job_line(n, overrides, n % 13 != 5, returned, f"o/{n}"),
                      "started": start + 2, "ended": start + 2 + n % 5})  # fmt: skip
        expected_durations.append(n % 5)
        if n % 50 == 49:  # run again, still running
            lines.append({**started_line(n, overrides), "at": start + 9})
    path = tmp_path / "journal.jsonl"
    journal(path, lines)
    with open(path, "ab") as f:
        f.write(b'{"job": 2, "status": "failed", "dig')  # torn
    scan = scan_journal(tmp_path, best=3)
    truth = independent_counts_without_torn(path)
    assert (scan.completed, scan.failed, scan.running) == (
        truth["completed"], truth["failed"], truth["started"]
    )  # fmt: skip
    # returns that are numbers: the lowest first; lists and dicts are not numbers
    numbers = sorted(
        (n / 10, n) for n in range(300)
        if n % 13 != 5 and n % 50 != 49 and n % 7 and n % 11
    )  # fmt: skip
    assert scan.numeric == len(numbers)
    assert [job["number"] for job in scan.best] == [n for _, n in numbers[:3]]
    assert scan.best[0]["overrides"]["name"] == 'a, "b"'
    ended = sum(c for _, _, c in scan.durations["completed"].bins())
    ended += sum(c for _, _, c in scan.durations["failed"].bins())
    assert ended == truth["completed"] + truth["failed"]
    _, started = scan.bins.series("started")
    assert sum(started) == 300  # each job's latest attempt started once


def independent_counts_without_torn(path: Path) -> Dict[str, int]:
    text = path.read_bytes()
    clean = path.with_name("clean.jsonl")
    clean.write_bytes(text[: text.rfind(b"\n") + 1])
    return independent_counts(clean)


def test_the_samples_are_bounded_and_the_same_at_each_report(tmp_path: Path) -> None:
    from hydra_python_sweeper.report import scan as module

    jobs = [
        {**job_line(n, [f"+x={n}"], True, float(n % 97), str(n)), "started": 1e3 + n,
         "ended": 1e3 + n + 1}
        for n in range(module.TIMELINE * 3)
    ]  # fmt: skip
    journal(tmp_path / "journal.jsonl", jobs)
    first, again = scan_journal(tmp_path), scan_journal(tmp_path)
    assert len(first.points) == module.POINTS and first.points_sampled
    assert first.timeline_sampled and module.TIMELINE <= len(first.timeline)
    assert len(first.timeline) <= module.TIMELINE + module.LONGEST
    assert [j["number"] for j in first.points] == [j["number"] for j in again.points]
    spread = sorted(j["number"] for j in first.timeline)
    assert spread[0] < len(jobs) // 10 and spread[-1] > len(jobs) * 9 // 10  # all over the sweep


def test_the_tallies_keep_what_they_promise() -> None:
    bins = TimeBins(origin=0.0, most=8)
    rng = random.Random(0)
    times = [rng.uniform(0, 1000) for _ in range(5000)]
    for t in times[:2500]:
        bins.add(t, "x")
    bins.add_many(times[2500:], "x")
    starts, counts = bins.series("x")
    assert len(starts) <= 8 and sum(counts) == 5000
    for start, count in zip(starts, counts):
        assert count == sum(start <= t < start + bins.width for t in times)
    low: Lowest[int] = Lowest(10)
    top: Largest[int] = Largest(10)
    for x in rng.sample(range(10_000), 10_000):
        low.add(x, x)
        top.add(x, x)
    assert low.items() == list(range(10)) and top.items() == list(range(9999, 9989, -1))


def test_a_dir_without_a_journal_is_one_clear_error(tmp_path: Path) -> None:
    from hydra_python_sweeper.errors import JournalError

    with pytest.raises(JournalError, match="there is no journal in"):
        scan_journal(tmp_path)
