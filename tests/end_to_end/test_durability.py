"""One sweep dir, one owner: the failures of a real cluster, each reproduced, each handled."""

import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, List

import pytest
import spaces
from conftest import RecordingLauncher, journal_records
from omegaconf import OmegaConf

from hydra_python_sweeper.errors import (
    JobsFailed,
    JournalError,
    PythonSweeperError,
    ResumeError,
    SweepBusy,
    SweepDirError,
)
from hydra_python_sweeper.journal import lines as _lines
from hydra_python_sweeper.journal import writer as _writer
from hydra_python_sweeper.journal.admission import take_lock
from hydra_python_sweeper.journal.lines import FILENAME, _returned, encode, job_line
from hydra_python_sweeper.journal.reader import read
from hydra_python_sweeper.journal.writer import append
from hydra_python_sweeper.run.sweeper import PythonSweeperImpl
from hydra_python_sweeper.run.task import TaskExited
from hydra_python_sweeper.space.stages import job_digest

Make = Callable[..., PythonSweeperImpl]
APPS = Path(__file__).resolve().parents[1] / "apps"


@pytest.fixture(autouse=True)
def _reset_counts() -> None:
    spaces.reset()


def fail(*numbers: int) -> RecordingLauncher:
    return RecordingLauncher(
        lambda start, batch: next((n for n in numbers if start <= n < start + len(batch)), None)
    )


def fail_writes(
    monkeypatch: pytest.MonkeyPatch, when: Callable[[int, bytes], bool], error: OSError
) -> None:
    """The journal's writes for which ``when(fd, data)`` holds fail with ``error``."""
    real_write = os.write

    def write(fd: int, data: bytes) -> int:
        if when(fd, data):
            raise error
        return real_write(fd, data)

    monkeypatch.setattr(_writer.os, "write", write)


def lines(path: Path) -> List[dict]:
    return journal_records(path)


# --- 1. two processes on one sweep dir -------------------------------------------------------


def test_a_second_process_on_the_same_dir_and_shard_stops_before_launching(
    make_sweeper: Make, tmp_path: Path
) -> None:
    (tmp_path / "sweep").mkdir()
    held = take_lock(tmp_path / "sweep", 0)  # another process's, as far as flock knows
    try:
        sweeper = make_sweeper(entrypoints=["spaces.counter"])
        with pytest.raises(SweepBusy) as info:
            sweeper.sweep([])
        assert f"is being run by pid {os.getpid()} on host" in str(info.value)
        assert sweeper.launcher.batches == []  # type: ignore[union-attr]
        # a shard of the same dir would run some of the jobs that run is running
        shard = make_sweeper(
            entrypoints=["spaces.counter"], max_batch_size=2, num_shards=2, shard_index=1
        )
        with pytest.raises(SweepBusy, match=r"is being run by pid .*, no shards"):
            shard.sweep([])
        assert shard.launcher.batches == []  # type: ignore[union-attr]
    finally:
        held.close()
    make_sweeper(entrypoints=["spaces.counter"], sweep_dir="sweep2").sweep([])
    (tmp_path / "shards").mkdir()
    held = take_lock(tmp_path / "shards", 0, 2)  # shard 0 of 2 runs
    try:
        other = make_sweeper(
            entrypoints=["spaces.counter"], max_batch_size=2, num_shards=3, shard_index=1,
            sweep_dir="shards",
        )  # fmt: skip
        with pytest.raises(SweepBusy, match="shard 0 of 2"):  # another cut of the sweep
            other.sweep([])
        unsharded = make_sweeper(entrypoints=["spaces.counter"], sweep_dir="shards")
        with pytest.raises(SweepBusy):  # shard 0 is the lock of a run without shards too
            unsharded.sweep([])
        shard = make_sweeper(
            entrypoints=["spaces.counter"], max_batch_size=2, num_shards=2, shard_index=1,
            sweep_dir="shards",
        )  # fmt: skip
        shard.sweep([])  # the other shard of the same cut runs beside it
        assert shard.launcher.batches  # type: ignore[union-attr]
    finally:
        held.close()


def test_resume_refuses_jobs_that_started_and_may_still_run(
    make_sweeper: Make, tmp_path: Path
) -> None:
    sweep_dir = tmp_path / "sweep"
    make_sweeper(launcher=fail(3), entrypoints=["spaces.counter"], fail_fast=False)
    with pytest.raises(JobsFailed):
        make_sweeper(launcher=fail(3), entrypoints=["spaces.counter"], fail_fast=False).sweep([])
    # job 3 started again in a process that still runs (this one), job 4 in a dead one
    alive = os.getpid()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    for number, pid in ((3, alive), (4, int(dead))):
        digest = job_digest([f"+i={number}"]).hex()
        append(
            sweep_dir / FILENAME,
            {
                "job": number,
                "status": "started",
                "digest": digest,
                "host": os.uname().nodename,
                "pid": pid,
            },
        )
    sweeper = make_sweeper(entrypoints=["spaces.counter"], resume=True)
    with pytest.raises(ResumeError) as info:
        sweeper.sweep([])
    message = str(info.value)
    assert message.startswith(f"1 job of this sweep started and have not ended: #3 (pid {alive}")
    assert "scancel" in message and "hydra.sweeper.resume=force" in message
    assert sweeper.launcher.batches == []  # type: ignore[union-attr]
    forced = make_sweeper(entrypoints=["spaces.counter"], resume="force")
    forced.sweep([])
    assert forced.launcher.jobs == [["+i=3"], ["+i=4"]]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "first, second",
    [
        (
            ["hydra.sweeper.num_shards=1"],
            ["hydra.sweeper.num_shards=2", "hydra.sweeper.shard_index=1"],
        ),
        (
            ["hydra.sweeper.num_shards=2", "hydra.sweeper.shard_index=1"],
            ["hydra.sweeper.num_shards=1"],
        ),
        (
            ["hydra.sweeper.num_shards=2", "hydra.sweeper.max_batch_size=2"],
            [
                "hydra.sweeper.num_shards=2",
                "hydra.sweeper.shard_index=1",
                "hydra.sweeper.max_batch_size=3",
            ],
        ),
        (
            ["hydra.sweeper.num_shards=2", "hydra.sweeper.max_batch_size=2"],
            [
                "hydra.sweeper.num_shards=3",
                "hydra.sweeper.shard_index=1",
                "hydra.sweeper.max_batch_size=2",
            ],
        ),
    ],
    ids=["unsharded-then-shard", "shard-then-unsharded", "other-batch-size", "other-num-shards"],
)
def test_runs_that_would_overlap_are_never_both_admitted(
    tmp_path: Path, first: List[str], second: List[str]
) -> None:
    """Two runs of one dir that would share jobs, started together (and the second a
    moment after the first): one is admitted, the other refused, each job runs once."""
    for round, delay in enumerate((0.0, 0.8)):
        sweep_dir = tmp_path / f"sweep{round}"
        command = [sys.executable, str(APPS / "durable.py"), "-m", f"hydra.sweep.dir={sweep_dir}"]
        runs = []
        for extra in (first, second):
            runs.append(
                subprocess.Popen(
                    [*command, "sleep=0.3", *extra],
                    cwd=tmp_path,
                    text=True,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
            )
            time.sleep(delay)
        outputs = [run.communicate(timeout=120)[0] for run in runs]
        codes = [run.returncode for run in runs]
        assert sorted(codes) == [0, 1], outputs
        refused = outputs[codes.index(1)]
        assert "is being run by" in refused or "already holds" in refused or "cut" in refused, (
            refused
        )
        assert "Traceback" not in refused
        completions = (sweep_dir / "completions.txt").read_text().split()
        assert len(completions) == len(set(completions)), f"round {round}: a job ran twice"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_the_sweeper_killed_alone_while_its_array_runs_is_resumed_at_once_adopting_it(
    tmp_path: Path,
) -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    sweep_dir = tmp_path / "sweep"
    command = [
        sys.executable,
        str(APPS / "durable.py"),
        "-m",
        f"hydra.sweep.dir={sweep_dir}",
        "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=5",
        f"hold={tmp_path / 'release'}",  # jobs #5 on wait for it: they run while the test
        "hold_from=5",  # kills the sweeper and resumes, whatever the machine's load
    ]
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    journal = sweep_dir / FILENAME

    def wait_for(text: str, process: "subprocess.Popen[bytes]") -> None:
        deadline = time.monotonic() + 120
        while not journal.exists() or text not in journal.read_text():
            assert time.monotonic() < deadline and process.poll() is None, text
            time.sleep(0.05)

    wait_for('"job": 6, "status": "started"', process)
    process.kill()  # the sweeper alone: its job array runs on, as on a cluster
    process.wait()
    # at once: the resume adopts the array's jobs that still run (batch 2's: their group
    # takes one of the two places in flight, their ends reaching the journal from the jobs)
    # and launches the last batch beside them, each job once
    log = tmp_path / "resume.log"
    with open(log, "wb") as out:
        resuming = subprocess.Popen(
            [*command, "hydra.sweeper.max_in_flight=2", "hydra.sweeper.resume=true"],
            cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for('"job": 10, "status": "started"', resuming)  # the last batch, launched
        (tmp_path / "release").touch()  # beside the adopted jobs, which may now end
        assert resuming.wait(timeout=300) == 0, log.read_text()[-3000:]
    output = log.read_text()
    assert "launched by an earlier run, still run: #" in output
    assert "Traceback" not in output
    ran = [int(n) for n in (sweep_dir / "completions.txt").read_text().split()]
    assert sorted(ran) == list(range(12))  # each job once: none launched while it still ran
    deadline = time.monotonic() + 30  # the executor's last processes exit and are reaped
    while any(str(sweep_dir / ".submitit") in p for p in _command_lines()):
        assert time.monotonic() < deadline, "a process of the sweep's executor was left"
        time.sleep(0.1)
    adopted = [int(n) for n in re.findall(r"#(\d+) \(pid \d+\)", output)]
    assert adopted
    lines = [json.loads(line) for line in (sweep_dir / FILENAME).read_text().splitlines()]
    resumed_at = next(i for i, line in enumerate(lines) if line.get("run") == 2)
    adopted_end = max(line["ended"] for line in lines if line.get("job") in adopted
                      and "ended" in line)  # fmt: skip
    first_launch = min(line["at"] for line in lines[resumed_at:]
                       if line.get("status") == "started")  # fmt: skip
    assert first_launch < adopted_end  # launched beside the adopted jobs, not after them
    assert re.search(r"Adopted: jobs #\d+( to #\d+)? of an earlier run", output)


def _command_lines() -> List[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit():
                found.append((proc / "cmdline").read_bytes().decode(errors="replace"))
        except OSError:
            pass
    return found


# --- 2. a sweep dir reused without resume ----------------------------------------------------


def test_a_dir_holding_an_unfinished_sweep_is_refused_without_resume(
    make_sweeper: Make, tmp_path: Path
) -> None:
    with pytest.raises(JobsFailed):
        make_sweeper(launcher=fail(2), entrypoints=["spaces.counter"], fail_fast=False).sweep([])
    again = make_sweeper(entrypoints=["spaces.counter"])
    with pytest.raises(ResumeError, match="already holds a sweep's journal") as info:
        again.sweep([])
    assert "hydra.sweeper.resume=true, or choose another hydra.sweep.dir" in str(info.value)
    other = make_sweeper(entrypoints=["spaces.twenty"])
    with pytest.raises(ResumeError, match="records another sweep"):
        other.sweep([])
    assert again.launcher.batches == other.launcher.batches == []  # type: ignore[union-attr]
    runs = [line for line in lines(tmp_path / "sweep" / FILENAME) if "run" in line]
    assert len(runs) == 1  # no second "run": 1


def test_a_finished_sweep_runs_again_as_with_basic_sweeper_its_journal_kept(
    make_sweeper: Make, tmp_path: Path
) -> None:
    make_sweeper(entrypoints=["spaces.counter"]).sweep([])
    again = make_sweeper(entrypoints=["spaces.counter"])
    again.sweep([])
    assert len(again.launcher.jobs) == 10  # type: ignore[union-attr]
    kept = lines(tmp_path / "sweep" / f"{FILENAME}.1")
    assert kept[0]["run"] == 1 and kept[-1]["done"] == 1
    assert lines(tmp_path / "sweep" / FILENAME)[0]["run"] == 1


def test_another_sweep_takes_a_dir_whose_sweep_ran_to_its_end(
    make_sweeper: Make, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Hydra's documented pattern: a fixed hydra.sweep.dir for every sweep, subdirs named by
    # ${hydra.job.override_dirname}
    make_sweeper(entrypoints=["spaces.counter"]).sweep([])
    other = make_sweeper(entrypoints=["spaces.twenty"])
    other.sweep([])
    assert len(other.launcher.jobs) == 20  # type: ignore[union-attr]
    kept = lines(tmp_path / "sweep" / f"{FILENAME}.1")
    assert kept[0]["sweep"]["entrypoints"] == ["spaces.counter"] and kept[-1]["done"] == 1
    assert lines(tmp_path / "sweep" / FILENAME)[0]["sweep"]["entrypoints"] == ["spaces.twenty"]
    assert "holds another sweep, run to its end: this one takes the dir" in caplog.text


def test_a_sweep_that_launched_nothing_does_not_block_the_corrected_one(
    make_sweeper: Make, tmp_path: Path
) -> None:
    broken = make_sweeper(entrypoints=["spaces.layers"], filters=["spaces.forgot_return"])
    with pytest.raises(PythonSweeperError, match="forgot_return"):  # as batch 1 is drawn
        broken.sweep([])
    assert broken.launcher.batches == []  # type: ignore[union-attr]
    assert lines(tmp_path / "sweep" / FILENAME)[-1] == {"abandoned": 1}
    corrected = make_sweeper(entrypoints=["spaces.layers"], filters=["spaces.not_all_64"])
    corrected.sweep([])
    assert len(corrected.launcher.jobs) == 11  # type: ignore[union-attr]
    assert lines(tmp_path / "sweep" / f"{FILENAME}.1")[-1] == {"abandoned": 1}


def test_a_resume_of_a_dir_where_nothing_was_launched_says_so(
    make_sweeper: Make, tmp_path: Path
) -> None:
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / FILENAME).write_text("")
    with pytest.raises(ResumeError, match="records no job: nothing was launched"):
        make_sweeper(entrypoints=["spaces.layers"], resume=True).sweep([])


# --- 3. shards that would cut the sweep differently ------------------------------------------


@pytest.mark.parametrize("changed", [{"max_batch_size": 4}, {"num_shards": 3}])
def test_shards_with_other_batch_settings_are_refused(make_sweeper: Make, changed: Any) -> None:
    settings = {"entrypoints": ["spaces.twenty"], "max_batch_size": 5, "num_shards": 2}
    make_sweeper(**settings, shard_index=0).sweep([])
    other = make_sweeper(**{**settings, **changed}, shard_index=1)
    with pytest.raises(ResumeError, match="shards must cut the sweep into the same batches"):
        other.sweep([])
    assert other.launcher.batches == []  # type: ignore[union-attr]
    resumed = make_sweeper(**{**settings, **changed}, shard_index=0, resume=True)
    with pytest.raises(ResumeError, match="shards must cut the sweep into the same batches"):
        resumed.sweep([])


def test_a_sharded_sweep_is_finished_only_once_every_shard_ended(
    make_sweeper: Make, tmp_path: Path
) -> None:
    def interrupted(start: int, batch: Any) -> None:
        if start >= 4:
            raise KeyboardInterrupt  # shard 1 stopped after its first batch (jobs 2 and 3)

    shards = dict(entrypoints=["spaces.counter"], max_batch_size=2, num_shards=2)
    with pytest.raises(SystemExit):
        make_sweeper(RecordingLauncher(interrupted), shard_index=1, **shards).sweep([])
    make_sweeper(shard_index=0, **shards).sweep([])  # shard 0 ends last, all completed
    state = read(tmp_path / "sweep" / FILENAME)
    assert not state.finished and not state.ended
    again = make_sweeper(entrypoints=["spaces.counter"], max_batch_size=2)
    with pytest.raises(ResumeError, match="already holds a sweep's journal"):
        again.sweep([])  # not taken for a finished sweep, run again from scratch
    assert again.launcher.batches == []  # type: ignore[union-attr]
    resumed = make_sweeper(entrypoints=["spaces.counter"], max_batch_size=2, resume=True)
    resumed.sweep([])
    assert [start for start, _ in resumed.launcher.batches] == [6]  # type: ignore[union-attr]
    assert read(tmp_path / "sweep" / FILENAME).finished


def test_a_resume_without_shards_may_change_the_batch_size(make_sweeper: Make) -> None:
    with pytest.raises(JobsFailed):
        make_sweeper(
            launcher=fail(7), entrypoints=["spaces.twenty"], max_batch_size=5, fail_fast=False
        ).sweep([])
    resumed = make_sweeper(entrypoints=["spaces.twenty"], max_batch_size=3, resume=True)
    resumed.sweep([])
    assert resumed.launcher.jobs == [["+i=7"]]  # type: ignore[union-attr]


# --- 4. journal writes that fail -------------------------------------------------------------


class ForgetfulLauncher(RecordingLauncher):
    """A launcher whose jobs' own journal writes are lost (as on a full disk in the job)."""

    def launch(self, job_overrides: Any, initial_job_idx: int) -> Any:
        saved, self.callbacks.callbacks = self.callbacks.callbacks, []
        try:
            return super().launch(job_overrides, initial_job_idx)
        finally:
            self.callbacks.callbacks = saved


def test_a_job_end_lost_by_the_job_is_written_by_the_sweeper(
    make_sweeper: Make, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_sweeper(ForgetfulLauncher(), entrypoints=["spaces.counter"], max_batch_size=4).sweep([])
    ended = [r["job"] for r in lines(tmp_path / "sweep" / FILENAME) if r.get("status")]
    assert sorted(ended) == list(range(10))
    assert "4 jobs of batch #0 to #3 (#0 first) had no end in the journal" in caplog.text
    resumed = make_sweeper(entrypoints=["spaces.counter"], resume=True)
    resumed.sweep([])
    assert resumed.launcher.batches == []  # type: ignore[union-attr]


def test_a_full_disk_stops_the_sweep_loudly(
    make_sweeper: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = str(tmp_path / "sweep" / FILENAME)
    fail_writes(
        monkeypatch,
        lambda fd, data: b'"job"' in data and os.readlink(f"/proc/self/fd/{fd}") == journal,
        OSError(errno.ENOSPC, "No space left on device"),
    )
    sweeper = make_sweeper(entrypoints=["spaces.counter"], max_batch_size=4)
    with pytest.raises(JournalError) as info:
        sweeper.sweep([])
    assert "No space left on device" in str(info.value)
    assert "the end of job #0 is not recorded, and a resume would run it again" in str(info.value)
    assert len(sweeper.launcher.batches) == 1  # type: ignore[union-attr]  # nothing after


def test_an_end_line_torn_by_a_full_disk_is_not_taken_for_written(
    make_sweeper: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "sweep" / FILENAME
    real_write = os.write
    torn = []

    def write(fd: int, data: bytes) -> int:  # job #2's end: half written, then a full disk
        if not torn and b'{"job": 2, "status": "completed"' in data:
            torn.append(real_write(fd, data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(_writer.os, "write", write)
    make_sweeper(entrypoints=["spaces.counter"], max_batch_size=4).sweep([])
    assert torn
    records = journal_records(journal)  # every line whole and as written
    ends = [r["job"] for r in records if r.get("status") == "completed"]
    assert sorted(ends) == list(range(10))  # #2's written by the sweeper from its return
    assert list(read(journal).status) == [_lines.COMPLETED] * 10


def test_the_watch_counts_only_whole_end_lines(tmp_path: Path) -> None:
    from hydra_python_sweeper.journal.watch import JournalWatch

    path = tmp_path / FILENAME
    watch = JournalWatch(path)
    watch.expect(range(0, 3))
    ended = encode(job_line(1, ["+i=1"], True, None, "1"))
    with open(path, "wb") as f:  # #1's end torn, then ended by an older writer's newline
        f.write(ended[:-20] + b"\n" + encode(job_line(2, ["+i=2"], True, None, "2")))
    assert watch.missing(range(0, 3)) == [0, 1]
    assert read(path).status[1] == 0  # the reader agrees: #1 has no end


def test_a_short_write_is_completed_and_a_torn_line_swallows_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / FILENAME
    with open(path, "w") as f:
        f.write('{"run": 1}\n{"job": 0, "status": "compl')  # a writer killed mid-line
    real_write = os.write
    monkeypatch.setattr(_writer.os, "write", lambda fd, data: real_write(fd, data[:7]))
    append(path, job_line(1, ["+i=1"], True, 1, "d"))  # seven bytes a write
    state = read(path)
    assert state.status[1] == _lines.COMPLETED and state.size == 2
    assert b"compl\n" not in path.read_bytes()  # the torn line was cut, not ended
    assert [r.get("job") for r in journal_records(path)] == [None, 1]


@pytest.mark.parametrize("value", ["deep", "bad repr"])
def test_a_return_value_that_cannot_be_written_gets_a_placeholder(value: str) -> None:
    class BadRepr:
        def __repr__(self) -> str:
            raise ValueError("no repr")

    returned: Any = BadRepr()
    if value == "deep":
        returned = []
        for _ in range(100_000):
            returned = [returned]
    written = _returned(returned)
    assert written.startswith("<the return value of type") or written.startswith("[[[")
    json.dumps(job_line(0, [], True, returned, "d"))  # the line itself always writes


# --- 5. sys.exit in a job --------------------------------------------------------------------


@pytest.mark.parametrize(
    "how, launcher, said",
    [
        ("exit", "basic", "the task called sys.exit(0)"),
        ("base", "basic", "the task raised Unusual: out of the ordinary"),
        ("interrupt", "basic", "the task raised KeyboardInterrupt"),
        ("interrupt", "joblib", "the task raised KeyboardInterrupt"),
        ("base", "submitit_local", "the task raised Unusual: out of the ordinary"),
    ],
)
@pytest.mark.parametrize("fail_fast", [True, False])
def test_any_exit_of_a_job_is_that_job_s_failure(
    tmp_path: Path, fail_fast: bool, how: str, launcher: str, said: str
) -> None:
    if launcher != "basic":
        pytest.importorskip(f"hydra_plugins.hydra_{launcher.split('_')[0]}_launcher")
    completed = subprocess.run(
        [
            sys.executable,
            str(APPS / "exits.py"),
            "-m",
            f"hydra.sweep.dir={tmp_path}/sweep",
            f"hydra.sweeper.fail_fast={fail_fast}",
            f"how={how}",
            f"hydra/launcher={launcher}",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output  # never 0, nor the 130 of a Ctrl-C
    # the sweep ends as Hydra ends on a failed job: with fail_fast, the job's own error (as
    # BasicSweeper raises it); else the sweeper's one message (then Hydra's hint, on 1.2 and
    # 1.3, of HYDRA_FULL_ERROR, which 1.4 leaves out)
    last = "\n".join(completed.stderr.rstrip().splitlines()[-3:])
    ends = f"{TaskExited.__module__}.TaskExited: {said}" if fail_fast else "1 job of 7 failed (#4);"
    assert ends in last, output[-2000:]
    records = [r for r in lines(tmp_path / "sweep" / FILENAME) if r.get("status") != "started"]
    ended = {r["job"]: r for r in records if "job" in r}
    assert ended[4]["status"] == "failed"
    assert said in ended[4]["return"]
    if fail_fast:
        assert sorted(ended) == [0, 1, 2, 3, 4, 5]  # batch 3 never launched
        assert "Sweep stopped (fail_fast) after job #4 failed: 5 completed, 1 failed" in output
        assert "hydra.sweeper.resume=true" in output and "-m" in output
    else:
        assert sorted(ended) == list(range(7))
        assert "1 job of 7 failed (#4)" in output


# --- 6. corrupt journals ---------------------------------------------------------------------


DIGEST = job_digest(["+i=0"]).hex()


def job_json(job: Any, status: str = "completed", digest: Any = DIGEST) -> str:
    """A job line as the journal holds it, with the given fields (``None``: left out)."""
    record = {"job": job, "status": status, "digest": digest}
    return json.dumps({k: v for k, v in record.items() if v is not None})


@pytest.mark.parametrize(
    "line, message",
    [
        (job_json("x"), "job 'x' is not a job"),
        (job_json(2.7), "job 2.7 is not a job"),
        (job_json(1).replace("1", "1e11", 1), "is not a job number"),
        (job_json(10**11), "is not a job"),
        (job_json(1, digest=None), "job #1 has digest None"),
        (job_json(1, status="done"), "job #1 has status 'done'"),
        ("5", "is '5', not a run or job record"),
        ("null", "is 'null', not a run or job record"),
        ('{"neither": 1}', "is neither a run nor a job record"),
        ("garbage}", "is not JSON"),
        ('{"run": "one"}', "run 'one' is not a run number"),
        ('{"run": 2, "fingerprint": 7}', "run line whose run number, fingerprint or batch"),
        ('{"run": 2, "num_shards": 2, "shard_index": 2}', "fingerprint or batch settings"),
        # a valid head, a tail that is not
        (job_json(1)[:-1] + ', "overrides": ["+i=0"], "return": garbage}', "is not JSON"),
        (job_json(1)[:-1] + ', "status": "started"}', "has the key 'status' twice"),
        (job_json(1, "started")[:-1] + ', "pid": 1e400}', "has pid inf, not a process id"),
        (job_json(1, "started")[:-1] + ', "pid": 10000000000000000000000}', "not a process id"),
        (job_json(1)[:-1] + ', "overrides": ["+i=1"]}', "overrides are not the ones its digest"),
        (job_json(1)[:-1] + ', "overrides": "+i=0"}', "overrides that are not a list of strings"),
        ('{"drawn": "two", "seen": 1}', "a drawn line whose batch or count is not a number"),
        ('{"learnt": [1, "2"]}', "a learnt line that is not a list of job numbers"),
        ('{"done": true, "failed": -1}', "a done line whose counts are not counts"),
        ('{"abandoned": true}', "an abandoned line with no run number"),
        # a line as this version writes it, then edited
        (encode(json.loads(job_json(1)))[:-1].decode().replace("completed", "failed"), "check"),
    ],
)
def test_a_corrupt_line_is_one_clear_error_naming_it(
    tmp_path: Path, line: str, message: str
) -> None:
    path = tmp_path / FILENAME
    path.write_text("\n".join(['{"run": 1}', job_json(0), line, ""]))
    with pytest.raises(JournalError) as info:
        read(path)
    assert f"{path}, line 3" in str(info.value) and message in str(info.value)


# --- 7. messages -----------------------------------------------------------------------------


def test_a_done_line_that_cannot_be_written_does_not_say_nothing_was_launched(
    make_sweeper: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_writes(
        monkeypatch,
        lambda fd, data: data.startswith(b'{"done": '),
        OSError(errno.EDQUOT, "Disk quota exceeded"),
    )
    sweeper = make_sweeper(entrypoints=["spaces.counter"], max_batch_size=4)
    with pytest.raises(SweepDirError) as info:
        sweeper.sweep([])
    message = str(info.value)
    assert "Nothing was launched" not in message
    assert "Every job ran (10 completed, 0 failed)" in message and "runs nothing again" in message
    monkeypatch.undo()
    resumed = make_sweeper(entrypoints=["spaces.counter"], max_batch_size=4, resume=True)
    resumed.sweep([])
    assert resumed.launcher.batches == []  # type: ignore[union-attr]


def test_a_sweep_dir_that_cannot_be_made_is_one_clear_error(
    make_sweeper: Make, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("")
    sweeper = make_sweeper(entrypoints=["spaces.counter"], sweep_dir="file/sweep")
    with pytest.raises(SweepDirError, match=r"cannot write the sweep dir .*file/sweep: "):
        sweeper.sweep([])


# --- 8. secrets, versions, symlinks ----------------------------------------------------------


def test_secrets_stay_unresolved_in_the_journal_and_the_log(
    make_sweeper: Make,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("SWEEP_SECRET", "hunter2")
    entry = OmegaConf.create({"_target_": "spaces.with_token", "token": "${oc.env:SWEEP_SECRET}"})
    sweeper = make_sweeper(entrypoints=[entry])
    sweeper.sweep([])
    assert sweeper.launcher.jobs[0] == ["+i=0", "+token_length=7"]  # type: ignore[union-attr]
    journal = (tmp_path / "sweep" / FILENAME).read_text()
    assert "${oc.env:SWEEP_SECRET}" in journal and "hunter2" not in journal
    assert "hunter2" not in caplog.text


def test_a_new_version_resumes_the_same_job_stream(make_sweeper: Make, tmp_path: Path) -> None:
    with pytest.raises(JobsFailed):
        make_sweeper(launcher=fail(5), entrypoints=["spaces.counter"], fail_fast=False).sweep([])
    path = tmp_path / "sweep" / FILENAME
    records = journal_records(path)
    records[0]["version"] = "0.0.0.dev"  # as another version wrote it
    path.write_bytes(b"".join(map(encode, records)))
    resumed = make_sweeper(entrypoints=["spaces.counter"], resume=True)
    resumed.sweep([])
    assert resumed.launcher.jobs == [["+i=5"]]  # type: ignore[union-attr]


def test_the_journal_is_not_followed_through_a_symlink(make_sweeper: Make, tmp_path: Path) -> None:
    outside = tmp_path / "outside.jsonl"
    outside.write_text("")
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / FILENAME).symlink_to(outside)
    sweeper = make_sweeper(entrypoints=["spaces.counter"], resume=True)
    with pytest.raises(SweepDirError, match="cannot write the sweep dir"):
        sweeper.sweep([])
    assert outside.read_text() == "" and sweeper.launcher.batches == []  # type: ignore[union-attr]


def test_an_interrupt_swallowed_where_it_landed_is_raised_again_between_batches() -> None:
    from hydra_python_sweeper.run.loop import Interrupt

    # as Python sets it up, even when the tests run with SIGINT ignored (a background job)
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    interrupt = Interrupt()
    try:
        try:
            os.kill(os.getpid(), signal.SIGINT)  # lands, say, in a weakref callback...
            time.sleep(1)
        except KeyboardInterrupt:
            pass  # ...which Python ignores
        with pytest.raises(KeyboardInterrupt):
            interrupt.check()
    finally:
        interrupt.restore()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    signal.signal(signal.SIGINT, inherited)
