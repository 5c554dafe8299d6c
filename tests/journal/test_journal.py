"""The journal, resume and fail_fast."""

import json
import re
from pathlib import Path
from typing import Any, Callable, List

import pytest
import spaces
from conftest import RecordingLauncher, journal_records
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf

from hydra_python_sweeper.errors import (
    JobsFailed,
    JournalError,
    ResumeError,
    SweepDirError,
)
from hydra_python_sweeper.journal import reader as _reader
from hydra_python_sweeper.journal.lines import (
    COMPLETED,
    FAILED,
    FILENAME,
    JOURNALED,
    STARTED,
    encode,
    job_line,
    journaled,
)
from hydra_python_sweeper.journal.reader import JournalState, read
from hydra_python_sweeper.journal.resume_batches import consecutive_runs, resume_batches
from hydra_python_sweeper.journal.watch import JournalWatch
from hydra_python_sweeper.journal.writer import JournalCallback, append
from hydra_python_sweeper.run.sweeper import PythonSweeperImpl
from hydra_python_sweeper.space.stages import job_digest

Make = Callable[..., PythonSweeperImpl]


@pytest.fixture(autouse=True)
def _reset_counts() -> None:
    spaces.reset()


def journal_lines(tmp_path: Path) -> List[dict]:
    return journal_records(tmp_path / "sweep" / "journal.jsonl")


def fail(*numbers: int) -> RecordingLauncher:
    """A launcher on which the given jobs fail (one per batch at most)."""
    return RecordingLauncher(
        lambda start, batch: next((n for n in numbers if start <= n < start + len(batch)), None)
    )


# --- the file --------------------------------------------------------------------------------


def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    append(path, {"run": 1, "fingerprint": "x"})
    append(path, {"job": 2, "status": "completed", "digest": job_digest(["a=2"]).hex()})
    with open(path, "a") as f:
        f.write('{"job": 3, "status": "compl')  # a kill in the middle of a write
    state = read(path)
    assert [run["run"] for run in state.runs] == [1]
    assert state.size == 3 and state.status[2] == COMPLETED and state.status[:2] == b"\0\0"


def test_a_line_torn_after_its_digest_is_ignored_too(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    line = json.dumps(
        {
            "job": 0,
            "status": "completed",
            "digest": job_digest(["a=0"]).hex(),
            "overrides": ["a=0"],
            "return": None,
            "dir": "/x",
        }
    )
    path.write_text(line[:-20])
    assert read(path).size == 0
    path.write_text(line + "\n")
    assert read(path).status[0] == COMPLETED


def test_the_last_line_of_a_job_decides_its_status(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    digest = job_digest(["a=0"]).hex()
    append(path, {"job": 0, "status": "failed", "digest": digest})
    append(path, {"job": 0, "status": "completed", "digest": digest})
    assert read(path).status[0] == COMPLETED


# --- resume_batches, consecutive_runs --------------------------------------------------------


def numbered(n: int, size: int) -> List[Any]:
    jobs = [[f"a={i}"] for i in range(n)]
    return [(start, jobs[start : start + size]) for start in range(0, n, size)]


def test_resume_batches_checks_every_recorded_job_before_yielding_any() -> None:
    state = JournalState()
    state.record(1, job_digest(["a=1"]), FAILED)
    state.record(8, job_digest(["a=999"]), COMPLETED)  # not the job the stream has at #8
    batches = resume_batches(numbered(10, 3), state, 3)
    with pytest.raises(ResumeError, match=r"regenerated job #8 as 'a=8'"):
        next(batches)


def test_resume_batches_refuses_a_journal_longer_than_the_stream() -> None:
    state = JournalState()
    state.record(12, job_digest(["a=12"]), COMPLETED)
    with pytest.raises(
        ResumeError, match=r"records jobs up to #12, but the sweep now has only 10 jobs"
    ):
        list(resume_batches(numbered(10, 3), state, 3))


def test_resume_batches_runs_failed_and_missing_jobs_in_their_own_batches() -> None:
    state = JournalState()
    for n in range(7):
        state.record(n, job_digest([f"a={n}"]), FAILED if n == 4 else COMPLETED)
    state.record(8, job_digest(["a=8"]), COMPLETED)
    assert [(s, [j[0] for j in b]) for s, b in resume_batches(numbered(12, 3), state, 3)] == [
        (4, ["a=4"]),
        (7, ["a=7"]),
        (9, ["a=9", "a=10", "a=11"]),
    ]
    assert state.skipped == 7


def test_consecutive_runs_never_cross_a_batch_boundary() -> None:
    jobs = [(n, f"j{n}") for n in (1, 2, 3, 4, 5, 9, 10)]
    assert list(consecutive_runs(jobs, 4)) == [
        (1, ["j1", "j2", "j3"]),
        (4, ["j4", "j5"]),
        (9, ["j9", "j10"]),
    ]
    assert list(consecutive_runs(jobs, None)) == [
        (1, ["j1", "j2", "j3", "j4", "j5"]),
        (9, ["j9", "j10"]),
    ]


# --- the sweeper ---------------------------------------------------------------------------------


def test_every_job_is_recorded_with_its_return_and_dir(make_sweeper: Make, tmp_path: Path) -> None:
    make_sweeper(entrypoints=["spaces.counter"], max_batch_size=4).sweep([])
    run, *jobs, done = journal_lines(tmp_path)
    assert done == {"done": 1, "completed": 10, "failed": 0, "skipped": 0}
    assert (
        run["run"] == 1
        and run["resume"] is False
        and run["sweep"]["entrypoints"] == ["spaces.counter"]
    )
    assert [(j["job"], j["status"], j["return"]) for j in jobs] == [
        (i, "completed", i) for i in range(10)
    ]
    assert jobs[3]["overrides"] == ["+i=3"] and jobs[3]["dir"] == str(tmp_path / "sweep" / "3")
    assert jobs[3]["digest"] == job_digest(["+i=3"]).hex()


def test_fail_fast_false_runs_every_batch_then_reports(make_sweeper: Make, tmp_path: Path) -> None:
    sweeper = make_sweeper(
        launcher=fail(2, 13), entrypoints=["spaces.twenty"], max_batch_size=5, fail_fast=False
    )
    with pytest.raises(JobsFailed) as info:
        sweeper.sweep([])
    assert len(sweeper.launcher.jobs) == 20  # type: ignore[union-attr]
    assert str(info.value).startswith("2 jobs of 20 failed (#2, #13); the journal ")
    jobs = [line for line in journal_lines(tmp_path) if "job" in line]
    statuses = {j["job"]: j["status"] for j in jobs}
    assert [n for n, s in statuses.items() if s == "failed"] == [2, 13]
    assert "RuntimeError('job 2 failed')" in [j["return"] for j in jobs]
    assert journal_lines(tmp_path)[-1] == {
        "done": 1,
        "completed": 18,
        "failed": 2,
        "skipped": 0,
    }


def test_fail_fast_stops_after_the_failed_batch(make_sweeper: Make) -> None:
    sweeper = make_sweeper(launcher=fail(2), entrypoints=["spaces.twenty"], max_batch_size=5)
    with pytest.raises(RuntimeError, match="job 2 failed"):
        sweeper.sweep([])
    assert len(sweeper.launcher.jobs) == 5  # type: ignore[union-attr]


def test_resume_runs_exactly_the_failed_and_missing_jobs(
    make_sweeper: Make, tmp_path: Path
) -> None:
    first = make_sweeper(
        launcher=fail(2, 13), entrypoints=["spaces.twenty"], max_batch_size=5, fail_fast=False
    )
    with pytest.raises(JobsFailed):
        first.sweep([])
    # jobs 16 to 19 never finished: as if the sweep had been killed in its last batch
    path = tmp_path / "sweep" / "journal.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(line for line in lines if json.loads(line).get("job", 0) < 16) + "\n")

    second = make_sweeper(entrypoints=["spaces.twenty"], max_batch_size=5, resume=True)
    second.sweep([])
    assert second.launcher.batches == [  # type: ignore[union-attr]
        (2, [["+i=2"]]),
        (13, [["+i=13"]]),
        (16, [["+i=16"], ["+i=17"], ["+i=18"], ["+i=19"]]),
    ]
    runs = [line for line in journal_lines(tmp_path) if "run" in line]
    assert [(r["run"], r["resume"]) for r in runs] == [(1, False), (2, True)]

    third = make_sweeper(entrypoints=["spaces.twenty"], max_batch_size=5, resume=True)
    third.sweep([])
    assert third.launcher.batches == []  # type: ignore[union-attr]


def test_a_resumed_shard_runs_only_its_own_batches(make_sweeper: Make) -> None:
    with pytest.raises(JobsFailed):
        make_sweeper(
            launcher=fail(2, 7, 13),
            entrypoints=["spaces.twenty"],
            max_batch_size=5,
            fail_fast=False,
        ).sweep([])
    shard = make_sweeper(
        entrypoints=["spaces.twenty"], max_batch_size=5, resume=True, shard_index=1, num_shards=2
    )
    shard.sweep([])
    assert shard.launcher.batches == [(7, [["+i=7"]])]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "changed, arguments, message",
    [
        (
            {},
            ["+extra=1"],
            r"line 1, records another sweep.*\(arguments: \[\] there, \['\+extra=1'\] here\)",
        ),
        (
            {"entrypoints": ["spaces.nineteen"]},
            [],
            r"records another sweep.*\(entrypoints: \['spaces.twenty'\] there, "
            r"\['spaces.nineteen'\] here\)",
        ),
    ],
)
def test_resume_of_another_sweep_fails_before_any_launch(
    make_sweeper: Make, changed: Any, arguments: List[str], message: str
) -> None:
    make_sweeper(entrypoints=["spaces.twenty"], max_batch_size=5).sweep([])
    settings = {"entrypoints": ["spaces.twenty"], "max_batch_size": 5, "resume": True, **changed}
    sweeper = make_sweeper(**settings)
    with pytest.raises(ResumeError, match=message):
        sweeper.sweep(arguments)
    assert sweeper.launcher.batches == []  # type: ignore[union-attr]


def test_resume_of_a_stream_that_changed_under_the_same_settings_fails_before_any_launch(
    make_sweeper: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(JobsFailed):
        make_sweeper(
            launcher=fail(3), entrypoints=["spaces.twenty"], max_batch_size=5, fail_fast=False
        ).sweep([])
    monkeypatch.setattr(spaces, "twenty", spaces.twenty_shuffled)  # same path, other jobs
    sweeper = make_sweeper(entrypoints=["spaces.twenty"], max_batch_size=5, resume=True)
    with pytest.raises(ResumeError) as info:
        sweeper.sweep([])
    assert sweeper.launcher.batches == []  # type: ignore[union-attr]
    line = next(
        n for n, text in enumerate((tmp_path / "sweep" / "journal.jsonl").open(), 1)
        if text.startswith('{"job": 1, "status": "completed"')
    )  # fmt: skip
    assert re.search(
        rf"regenerated job #1 as '\+i=7', but .*journal.jsonl, line {line} \(as '\+i=1'\), "
        r"records another job under that number.*not yield the same jobs in the same order.*"
        "Nothing was launched",
        str(info.value),
    ), str(info.value)


def test_a_run_line_of_the_same_sweep_under_another_fingerprint_says_so(
    make_sweeper: Make, tmp_path: Path
) -> None:
    make_sweeper(entrypoints=["spaces.twenty"], max_batch_size=5, fail_fast=False).sweep([])
    path = tmp_path / "sweep" / "journal.jsonl"
    records = journal_records(path)
    records[0]["fingerprint"] = "0" * 32  # as an edit, or another version, would leave it
    path.write_bytes(b"".join(map(encode, records)))
    sweeper = make_sweeper(entrypoints=["spaces.twenty"], max_batch_size=5, resume=True)
    with pytest.raises(ResumeError) as info:
        sweeper.sweep([])
    message = str(info.value)
    assert "line 1, records another sweep" in message and "under another fingerprint" in message
    assert "this one is" not in message


def test_multirun_yaml_is_not_written_through_a_symlink(make_sweeper: Make, tmp_path: Path) -> None:
    (tmp_path / "sweep").mkdir()
    outside = tmp_path / "outside.yaml"
    outside.write_text("mine: 1\n")
    (tmp_path / "sweep" / "multirun.yaml").symlink_to(outside)
    sweeper = make_sweeper(entrypoints=["spaces.twenty"])
    with pytest.raises(SweepDirError, match=r"multirun\.yaml is a symbolic link"):
        sweeper.sweep([])
    assert outside.read_text() == "mine: 1\n" and sweeper.launcher.batches == []  # type: ignore[union-attr]


def test_resume_without_a_journal_says_where_it_looked(make_sweeper: Make, tmp_path: Path) -> None:
    with pytest.raises(
        ResumeError, match=r"there is no .*sweep/journal.jsonl: point hydra.sweep.dir"
    ):
        make_sweeper(entrypoints=["spaces.twenty"], resume=True).sweep([])


def test_a_dry_run_of_a_resume_shows_what_is_left(make_sweeper: Make) -> None:
    with pytest.raises(JobsFailed):
        make_sweeper(
            launcher=fail(3, 11), entrypoints=["spaces.twenty"], max_batch_size=5, fail_fast=False
        ).sweep([])
    summary = make_sweeper(
        entrypoints=["spaces.twenty"], max_batch_size=5, resume=True, dry_run=True
    ).sweep([])
    assert (summary.jobs, summary.batches) == (2, 2)


def test_the_failure_summary_names_the_first_ten(make_sweeper: Make) -> None:
    sweeper = make_sweeper(
        launcher=fail(*range(12)), entrypoints=["spaces.counter"], max_batch_size=1, fail_fast=False
    )
    with pytest.raises(JobsFailed) as info:
        sweeper.sweep([])
    shown = ", ".join(f"#{n}" for n in range(10))
    assert str(info.value).startswith(f"10 jobs of 10 failed ({shown}); the journal")
    sweeper = make_sweeper(
        launcher=fail(*range(20)),
        sweep_dir="another",
        entrypoints=["spaces.twenty"],
        max_batch_size=1,
        fail_fast=False,
    )
    with pytest.raises(JobsFailed) as info:
        sweeper.sweep([])
    assert str(info.value).startswith(f"20 jobs of 20 failed ({shown}, ...); the journal")


def test_the_watch_sees_each_job_end_once_whatever_its_return_value_holds(tmp_path: Path) -> None:
    path = tmp_path / FILENAME
    watch = JournalWatch(path)
    watch.expect(range(0, 4))
    lookalike = {"job": 1, "status": "completed"}  # a return value that reads as a line head
    append(
        path,
        job_line(2, ["a=2"], True, None, "2"),
        job_line(0, ["a=0"], True, lookalike, "0"),
        job_line(3, ["a=3"], False, "boom", "3"),
    )
    with open(path, "a") as f:
        f.write('{"job": 1, "status": "completed"')  # being written: not yet an end
    assert watch.missing(range(0, 4)) == [1]


def varied_journal(path: Path) -> None:
    """A journal with every kind of line, in an order a real sweep can leave."""
    lines = [json.dumps({"run": 1, "fingerprint": "f"})]
    for number in (0, 2, 1, 3):  # jobs end out of order
        job = [f"a={number}"]
        started = {"job": number, "status": "started", "digest": job_digest(job).hex()}
        lines.append(json.dumps({**started, "host": "h", "pid": 1}))
        lines.append(json.dumps(job_line(number, job, number != 2, None, str(number))))
    lines.append(json.dumps({"drawn": 1, "seen": 3}))
    lines.append('{"job": 4, "status": "completed", "digest": "' + job_digest(["a=4"]).hex())
    lines.append(json.dumps({"status": "failed", "job": 5, "digest": job_digest(["a=5"]).hex()}))
    lines.append(json.dumps({"done": True, "completed": 3, "failed": 2}))
    lines.append(json.dumps({"run": 2, "fingerprint": "f"}))
    again = {"job": 2, "status": "started", "digest": job_digest(["a=2"]).hex(), "pid": 2}
    lines.append(json.dumps(again))  # a job run again, still running
    path.write_text("\n".join(lines) + '\n{"job": 6, "status": "comp')  # torn last line


@pytest.mark.parametrize("block", [7, 64, 200, 1 << 21])
def test_a_journal_reads_the_same_whatever_the_blocks_it_is_read_in(
    tmp_path: Path, monkeypatch: Any, block: int
) -> None:
    path = tmp_path / FILENAME
    varied_journal(path)
    monkeypatch.setattr(_reader, "_BLOCK", block)
    state = read(path)
    assert [run["run"] for run in state.runs] == [1, 2] and not state.finished
    assert list(state.status) == [COMPLETED, COMPLETED, STARTED, COMPLETED, 0, FAILED]
    for number in (0, 1, 2, 3, 5):
        assert state.digests[8 * number : 8 * number + 8] == job_digest([f"a={number}"])[:8]
    assert list(state.started) == [2] and json.loads(state.started[2])["pid"] == 2


@pytest.mark.parametrize("block", [7, 64, 1 << 21])
@pytest.mark.parametrize(
    "corrupt, message",
    [
        ('{"job": 100000000, "status": "completed", "digest": "' + "0" * 32 + '"}', "job number"),
        ('{"job": 7, "status": "completed", "digest": "' + "z" * 32 + '"}', "has digest"),
        ("not json", "is not JSON"),
    ],
)
def test_a_corrupt_line_is_named_whatever_the_block_it_falls_in(
    tmp_path: Path, monkeypatch: Any, block: int, corrupt: str, message: str
) -> None:
    path = tmp_path / FILENAME
    good = [json.dumps(job_line(n, [f"a={n}"], True, None, "")) for n in range(300)]
    path.write_text("\n".join(['{"run": 1}', *good, corrupt, *good[:3], ""]))
    monkeypatch.setattr(_reader, "_BLOCK", block)
    with pytest.raises(JournalError) as info:
        read(path)
    assert re.match(rf"{re.escape(str(path))}, line 302\b", str(info.value))
    assert message in str(info.value)


def test_the_watch_trusts_returns_the_jobs_marked_and_reads_for_the_others(tmp_path: Path) -> None:
    path = tmp_path / FILENAME
    path.write_text("")
    watch = JournalWatch(path)
    marked = [JobReturn() for _ in range(3)]
    for job_return in marked:
        setattr(job_return, JOURNALED, True)  # as JournalCallback does once its line is written
    watch.expect(range(0, 3))
    assert watch.missing(range(0, 3), marked) == []  # trusted: nothing read
    append(path, job_line(4, ["a=4"], True, None, "4"))
    watch.expect(range(3, 6))
    assert watch.missing(range(3, 6), [*marked[:2], JobReturn()]) == [3, 5]  # read back


def test_the_journal_callback_marks_the_return_once_its_line_is_written(tmp_path: Path) -> None:
    path = tmp_path / FILENAME
    config = OmegaConf.create({"hydra": {"job": {"num": 7}, "runtime": {"output_dir": "7"}}})
    job_return = JobReturn(overrides=["a=7"], status=JobStatus.COMPLETED, _return_value=1)
    JournalCallback(str(path)).on_job_end(config, job_return)
    assert journaled([job_return]) and read(path).status[7] == COMPLETED
    unwritten = JobReturn(overrides=["a=8"], status=JobStatus.COMPLETED)
    with pytest.raises(OSError):
        JournalCallback(str(tmp_path / "missing" / FILENAME)).on_job_end(config, unwritten)
    assert not journaled([unwritten])


def _append_many(path: str, writer: int, count: int) -> None:
    import random

    rng = random.Random(writer)
    for i in range(count):  # lines of every size, some far longer than a page
        pad = "x" * rng.choice([10, 100, 5000, 70000])
        append(Path(path), {"drawn": writer * count + i, "seen": 0, "pad": pad})


def test_eight_processes_appending_at_once_leave_every_line_whole(tmp_path: Path) -> None:
    import multiprocessing

    path = tmp_path / FILENAME
    writers = [
        multiprocessing.get_context("spawn").Process(target=_append_many, args=(str(path), k, 300))
        for k in range(8)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
        assert writer.exitcode == 0
    lines = path.read_bytes().split(b"\n")
    assert lines.pop() == b""  # the file ends with a newline
    records = [json.loads(line) for line in lines]  # no blank line, none torn or split
    assert sorted(r["drawn"] for r in records) == list(range(2400))


def test_a_reader_ignores_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / FILENAME
    append(path, job_line(0, ["a=0"], True, 1, "0"))
    with open(path, "ab") as f:
        f.write(b"\n\n")
    append(path, job_line(1, ["a=1"], False, 2, "1"), {"done": True, "failed": 1})
    state = read(path)
    assert list(state.status) == [COMPLETED, FAILED]


@pytest.mark.parametrize(
    "outcome, ended",
    [
        (KeyboardInterrupt(), False),  # the sweep's Ctrl-C, as Hydra 1.4's run_job hands it on
        (SystemExit(-1), False),  # a packed task's checkpoint exit
        (ValueError("nan"), True),  # the job's own failure
    ],
)
def test_a_job_stopped_with_its_sweep_writes_no_end_line(
    tmp_path: Path, outcome: BaseException, ended: bool
) -> None:
    from hydra.core.utils import JobReturn, JobStatus
    from omegaconf import OmegaConf

    path = tmp_path / "journal.jsonl"
    callback = JournalCallback(str(path))
    config = OmegaConf.create(
        {
            "hydra": {
                "job": {"num": 3},
                "overrides": {"task": ["a=3"]},
                "runtime": {"output_dir": "3"},
            }
        }
    )
    callback.on_job_start(config)
    started = path.read_text()
    job = JobReturn(overrides=["a=3"], status=JobStatus.FAILED, _return_value=outcome)
    callback.on_job_end(config, job)
    assert (path.read_text() != started) == ended
