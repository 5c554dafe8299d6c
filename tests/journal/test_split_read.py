"""A journal read by several processes (the status's reader) says what one process reads."""

import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, List, Tuple

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hydra_python_sweeper.commands import status as _status
from hydra_python_sweeper.errors import JournalError
from hydra_python_sweeper.journal import split_read as _split_read
from hydra_python_sweeper.journal.lines import (
    abandoned_line,
    done_line,
    encode,
    job_line,
    started_line,
)
from hydra_python_sweeper.journal.reader import JournalState, read
from hydra_python_sweeper.journal.split_read import read_split

# An event of a sweep's journal: a job started or ended (completed or failed, with one of
# two errors), a run started, ended or was abandoned.
events = st.one_of(
    st.tuples(st.just("started"), st.integers(0, 40)),
    st.tuples(st.sampled_from(["completed", "failed"]), st.integers(0, 40), st.integers(0, 1)),
    st.tuples(st.sampled_from(["run", "done", "abandoned"]), st.integers(1, 3)),
)


def write(path: Path, journal: List[Tuple[Any, ...]], torn: bytes) -> None:
    lines = []
    for event in journal:
        kind, number = event[0], event[1]
        overrides = [f"+a={number}"]
        if kind == "started":
            lines.append(encode(started_line(number, overrides)))
        elif kind in ("completed", "failed"):
            returned = 0.5 if kind == "completed" else ["E('x')", "F('y')"][event[2]]
            lines.append(encode(job_line(number, overrides, kind == "completed", returned, "d")))
        elif kind == "run":
            lines.append(encode({"run": number, "num_shards": 1, "shard_index": 0}))
        elif kind == "done":
            lines.append(encode(done_line(number, 1, 0, 0)))
        else:
            lines.append(encode(abandoned_line(number)))
    path.write_bytes(b"".join(lines) + torn)


def same(one: JournalState, split: JournalState) -> None:
    assert split.status == one.status
    assert split.digests == one.digests
    assert split.started == one.started
    assert split.failures == one.failures
    assert split.ends == one.ends
    assert split.runs == one.runs
    assert split.shards == one.shards


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@example(journal=[("run", 1)], processes=3, torn=encode({"done": 1})[:-1])  # in a middle part
@given(
    journal=st.lists(events, max_size=120),
    processes=st.integers(2, 5),
    torn=st.sampled_from([b"", b'{"job": 3, "sta', encode({"done": 1})[:-1]]),
)
def test_a_journal_read_in_parts_is_the_journal_read_whole(
    tmp_path: Path, journal: List[Tuple[Any, ...]], processes: int, torn: bytes
) -> None:
    path = tmp_path / "journal.jsonl"
    write(path, journal, torn)
    one = read(path, failures=True)
    split, _ = read_split(path, None, failures=True, processes=processes, least=0)
    same(one, split)
    without, _ = read_split(path, None, failures=True, digests=False, processes=processes, least=0)
    assert without.status == one.status and without.started == one.started
    assert not without.digests


def test_a_corrupt_line_in_any_part_is_the_same_error_as_one_process_gives(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.jsonl"
    write(path, [("started", n % 40) for n in range(200)], b"")
    lines = path.read_bytes().splitlines(keepends=True)
    lines[150] = b'{"job": 3, "status": "started", "pid": "no"}\n'  # no check, a bad pid
    path.write_bytes(b"".join(lines))
    with pytest.raises(JournalError) as one:
        read(path)
    with pytest.raises(JournalError) as split:
        read_split(path, None, processes=4, least=0)
    assert str(split.value) == str(one.value) and "line 151" in str(one.value)


def test_the_status_read_in_parts_is_the_status_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal: List[Tuple[Any, ...]] = [("run", 1)]
    for number in range(300):
        journal.append(("started", number))
        if number < 290:
            journal.append(("failed" if number % 7 == 3 else "completed", number, number % 2))
    journal += [("completed", 3, 0), ("started", 10)]  # a failure retried; a job started again
    write(tmp_path / "journal.jsonl", journal, b"")
    now = 2e9
    whole = _status.as_json(_status.sweep_status(tmp_path, now))
    monkeypatch.setattr(_split_read, "LEAST", 0)
    monkeypatch.setattr(_split_read, "_cpus", lambda: 3)
    pools = []

    class Pool(ProcessPoolExecutor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pools.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(_split_read, "ProcessPoolExecutor", Pool)
    split = _status.as_json(_status.sweep_status(tmp_path, now))
    assert pools == [(3,)]  # read by three processes
    assert split == whole
    status = json.loads(split)
    # Job 3 failed then completed; job 10 failed then started again.
    assert (status["completed"], status["failed"], status["running"]) == (250, 39, 11)
    assert sorted(count for _, count, _ in status["failures"]) == [19, 20]


class Appender:
    """A scan that appends job lines to the journal while it is read, as a running sweep's
    jobs do (once, from the first part that calls it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done = False

    def __call__(self, block: bytes) -> None:
        if not self.done and not (self.path.parent / "appended").exists():
            (self.path.parent / "appended").touch()
            with open(self.path, "ab") as f:
                f.write(b"".join(encode(job_line(n, [f"+a={n}"], True, n, "d")) for n in (50, 51)))
        self.done = True


def test_lines_appended_while_a_journal_is_read_in_parts_are_not_an_error(tmp_path: Path) -> None:
    """A running sweep's journal grows while the status reads it: what was appended after
    the read began is not taken for one torn line."""
    path = tmp_path / "journal.jsonl"
    write(path, [("started", n % 40) for n in range(200)], b"")
    state, _ = read_split(path, Appender(path), processes=3, least=0)
    assert sorted(state.started) == list(range(40))  # the lines there when the read began
    assert set(state.status[50:]) <= {1}  # an appended line: whole, or not read
