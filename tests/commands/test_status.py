"""``status``, ``cancel`` and ``read_results`` on real sweeps: finished, failed, running."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, List

import pytest

from hydra_plugins.hydra_python_sweeper.utils import read_results

APPS = Path(__file__).resolve().parents[1] / "apps"


def app(name: str, sweep_dir: Path, *extra: str) -> List[str]:
    return [sys.executable, str(APPS / f"{name}.py"), "-m", f"hydra.sweep.dir={sweep_dir}", *extra]


def command(*arguments: Any) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hydra_plugins.hydra_python_sweeper", *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_status_and_results_of_a_sweep_with_a_failure(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    ran = subprocess.run(
        app("exits", sweep_dir, "how=exit", "code=3", "hydra.sweeper.fail_fast=false"),
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert ran.returncode == 1, ran.stderr
    shown = command("status", sweep_dir)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert f"Sweep {sweep_dir}: 1 run, ended" in text
    assert "Jobs: 6 of 7 completed, 1 failed, 0 running, 0 not yet launched" in text
    assert "Failures by error:\n  1 x TaskExited('the task called sys.exit(3)') (#4)" in text
    assert "To resume: python " in text and "hydra.sweeper.resume=true" in text
    assert f"hydra.sweep.dir={sweep_dir}" in text and "exits.py -m how=exit code=3" in text
    assert "Sweeper: none running" in text
    status = json.loads(command("status", sweep_dir, "--json").stdout)
    assert (status["completed"], status["failed"], status["total"]) == (6, 1, 7)
    assert status["failures"] == [["TaskExited('the task called sys.exit(3)')", 1, [4]]]
    assert status["median_seconds"] is not None and status["median_seconds"] >= 0

    records = list(read_results(sweep_dir))
    assert [r.number for r in records] == list(range(7))
    assert [r.status for r in records] == ["completed"] * 4 + ["failed"] + ["completed"] * 2
    assert records[2].overrides == {"how": "exit", "code": 3, "x": 2, "name": "job 2"}
    assert records[2].returned == 2 and records[4].returned.startswith("TaskExited")
    assert all(
        r.started is not None and r.ended is not None and r.started <= r.ended for r in records
    )
    assert all(r.host and r.dir and r.dir.endswith(str(r.number)) for r in records)

    table = tmp_path / "results.csv"
    written = command("status", sweep_dir, "--results", table)
    assert written.returncode == 0 and "7 jobs written" in written.stdout
    rows = list(csv.DictReader(table.open()))
    assert [row["number"] for row in rows] == [str(n) for n in range(7)]
    assert rows[3]["x"] == "3" and rows[3]["name"] == "job 3" and rows[4]["status"] == "failed"
    started = datetime.fromisoformat(rows[3]["started"])  # ISO 8601, in UTC
    assert started.utcoffset() == timedelta(0)
    assert abs(started.timestamp() - records[3].started) < 0.001

    # the results command: the same table on standard output, its count on standard error
    printed = command("results", sweep_dir)
    assert printed.returncode == 0 and printed.stdout == table.read_text()
    assert "7 jobs written to standard output" in printed.stderr
    assert command("status", sweep_dir, "--results", "-").stdout == table.read_text()
    assert not (tmp_path / "-").exists()
    # the best jobs: each returned its number (#4 failed)
    lowest = command("results", sweep_dir, "--best", "2").stdout.splitlines()
    assert lowest[0] == "The 2 best jobs (lowest returns):"
    assert [line.split()[:2] for line in lowest[1:]] == [["#0", "0"], ["#1", "1"]]
    highest = command("results", sweep_dir, "--best", "1", "--highest").stdout.splitlines()
    assert highest[1].split()[:2] == ["#6", "6"]


def test_the_status_of_a_running_sweep_then_cancel_then_resume(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    journal = sweep_dir / "journal.jsonl"
    release = tmp_path / "release"  # the jobs run until it exists: status sees them running
    arguments = [
        "sleep=0.5", "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5", "batch=4",
        f"hold={release}",
    ]  # fmt: skip
    sweeper = subprocess.Popen(
        app("durable", sweep_dir, *arguments),
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    # job #0's started line (the four jobs start in any order on a loaded machine)
    while not journal.exists() or '{"job": 0, "status": "started"' not in journal.read_text():
        assert sweeper.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    shown = command("status", sweep_dir)
    assert shown.returncode == 0, shown.stderr
    assert f"Sweep {sweep_dir}: 1 run, running" in shown.stdout
    assert f"Sweeper: pid {sweeper.pid} on host" in shown.stdout
    assert "  running #0: pid " in shown.stdout and "To cancel: python -m" in shown.stdout
    status = json.loads(command("status", sweep_dir, "--json").stdout)
    assert status["running"] >= 1 and status["total"] is None  # a generator: not known

    cancelled = command("cancel", sweep_dir)
    assert cancelled.returncode == 0, cancelled.stderr
    assert f"Stopped the sweeper (pid {sweeper.pid}" in cancelled.stdout
    assert sweeper.wait(timeout=60) == 143
    deadline = time.monotonic() + 30  # what was killed is reaped
    while [p for p in Path("/proc").glob("[0-9]*") if _runs_from(p, sweep_dir)]:
        assert time.monotonic() < deadline, "a job of the cancelled sweep still runs"
        time.sleep(0.1)
    after = command("status", sweep_dir).stdout
    assert "not running (resume it below)" in after and "Sweeper: none running" in after

    release.touch()
    resumed = subprocess.run(
        [*app("durable", sweep_dir, *arguments), "hydra.sweeper.resume=true"],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    ran = Counter(int(n) for n in (sweep_dir / "completions.txt").read_text().split())
    assert sorted(ran) == list(range(12)) and max(ran.values()) == 1
    final = command("status", sweep_dir).stdout
    assert "2 runs, ended" in final and "Jobs: 12 completed, 0 failed, 0 running" in final


def _runs_from(proc: Path, sweep_dir: Path) -> bool:
    try:
        line = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return str(sweep_dir) in line and state not in ("Z", "X") and "status" not in line


def test_status_of_a_dir_without_a_journal_is_one_clear_error(tmp_path: Path) -> None:
    shown = command("status", tmp_path)
    assert shown.returncode == 1 and "Traceback" not in shown.stderr
    assert f"there is no journal in {tmp_path}" in shown.stderr


def test_status_counts_stragglers_and_the_pace_from_the_journal(tmp_path: Path) -> None:
    from hydra_python_sweeper.commands.status import render, sweep_status
    from hydra_python_sweeper.journal.lines import encode, job_line, started_line

    now = 1_800_000_000.0
    lines = [{"run": 1, "total": 20, "at": now - 3600, "argv": ["train.py", "-m"]}]
    for number in range(10):  # ten jobs of 60 s, ended over the last hour
        ended = job_line(
            number, [f"+i={number}"], True, number, str(number), now - 3000 + 300 * number
        )
        ended["ended"] = ended["started"] + 60
        lines.append(ended)
    slow = started_line(10, ["+i=10"])  # running for 20 min: a straggler
    slow["at"] = now - 1200
    quick = started_line(11, ["+i=11"])  # running for 30 s
    quick["at"] = now - 30
    lines += [slow, quick]
    (tmp_path / "journal.jsonl").write_bytes(b"".join(map(encode, lines)))
    status = sweep_status(tmp_path, now=now)
    assert (status.completed, status.running, status.not_launched) == (10, 2, 8)
    assert status.median_seconds == 60
    assert [job.job for job in status.stragglers] == [10]
    assert status.recent_per_minute == pytest.approx(2 / 10)  # 2 ends in the last 10 min
    assert status.overall_per_minute == pytest.approx(10 / 60)
    assert status.eta_seconds == pytest.approx(10 / (2 / 10) * 60)
    text = render(status)
    assert (
        "Straggler #10: pid " in text and "running for 20 min 00 s (median job 1 min 00 s)" in text
    )
    assert "about 50 min 00 s left at that pace" in text
    # once the sweep has ended, its overall pace is over its run, not up to now
    lines.append({"done": 1, "completed": 10, "failed": 0, "skipped": 0})
    (tmp_path / "journal.jsonl").write_bytes(b"".join(map(encode, lines)))
    later = sweep_status(tmp_path, now=now + 86_400)
    # the first start an hour before now, the last end (job #9) 4 min before it
    assert later.ended and later.overall_per_minute == pytest.approx(10 / 56)


@pytest.fixture(autouse=True)
def _needs_posix() -> None:
    if not hasattr(os, "fork") or not hasattr(signal, "SIGTERM"):
        pytest.skip("POSIX only")


def test_the_plot_draws_every_job_with_its_times(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from hydra_python_sweeper.commands.plot import running_over_time
    from hydra_python_sweeper.journal.lines import encode, job_line
    from hydra_python_sweeper.journal.records import read_results as records

    lines = []
    for number in range(6):  # two slots: three waves of two jobs, #5 a straggler
        ended = job_line(
            number, [f"+i={number}"], number != 3, None, str(number), 60.0 * (number // 2)
        )
        ended["ended"] = ended["started"] + (300 if number == 5 else 50)
        lines.append(ended)
    (tmp_path / "journal.jsonl").write_bytes(b"".join(map(encode, lines)))
    spans = [(r.started, r.ended) for r in records(tmp_path)]
    times, counts = running_over_time(spans)
    assert max(counts) == 2 and counts[-1] == 0 and times[-1] == 420  # the straggler's tail
    drawn = command("status", tmp_path, "--plot", tmp_path / "sweep.png")
    assert drawn.returncode == 0, drawn.stderr
    assert "6 jobs drawn" in drawn.stdout
    assert (tmp_path / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_results_as_parquet_keep_each_column_s_type(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    from hydra_python_sweeper.commands.table import write_parquet
    from hydra_python_sweeper.journal.lines import encode, job_line

    lines = [
        job_line(0, ["+lr=0.1", "+layers=[32,64]", "+name=a"], True, 0.5, "0", 10.0),
        job_line(1, ["+lr=1", "+name=b"], False, "ValueError('nan')", "1", 11.0),
        job_line(2, ["+lr=0.01", "+layers=[8]", "+name=c", "+seed=7"], True, 0.25, "2", 12.0),
    ]
    (tmp_path / "journal.jsonl").write_bytes(b"".join(map(encode, lines)))
    assert write_parquet(tmp_path, tmp_path / "results.parquet", rows_per_group=2) == 3
    table = pq.read_table(tmp_path / "results.parquet")
    assert table.column_names == [
        "number", "status", "lr", "layers", "name", "seed", "returned",
        "dir", "host", "started", "ended",
    ]  # fmt: skip
    rows = table.to_pylist()
    assert [row["lr"] for row in rows] == [0.1, 1.0, 0.01]  # ints and floats: floats
    assert [row["seed"] for row in rows] == [None, None, 7]
    assert [row["layers"] for row in rows] == ["[32, 64]", None, "[8]"]  # lists: JSON text
    assert [row["returned"] for row in rows] == ["0.5", "ValueError('nan')", "0.25"]
    assert [row["status"] for row in rows] == ["completed", "failed", "completed"]
    assert rows[2]["started"] == datetime.fromtimestamp(12.0, timezone.utc)
    assert rows[2]["ended"] >= rows[2]["started"]
    assert str(table.schema.field("started").type) == "timestamp[ms, tz=UTC]"
    assert str(table.schema.field("lr").type) == "double"
    assert str(table.schema.field("seed").type) == "int64"


def test_watch_refreshes_in_place_until_ctrl_c(tmp_path: Path) -> None:
    from hydra_python_sweeper.journal.lines import encode, job_line

    journal = tmp_path / "journal.jsonl"
    journal.write_bytes(encode(job_line(0, ["+i=0"], True, 0, "0", 1.0)))
    watching = subprocess.Popen(
        [sys.executable, "-m", "hydra_plugins.hydra_python_sweeper", "status", str(tmp_path),
         "--watch", "0.2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    assert watching.stdout is not None
    screens_seen = _read_screens(watching.stdout, 2)  # it shows the sweep, twice
    with open(journal, "ab") as f:  # a job ends meanwhile: the next refresh shows it
        f.write(encode(job_line(1, ["+i=1"], False, "E()", "1", 2.0)))
    later = ""
    while "Jobs: 1 completed, 1 failed" not in later:  # until a refresh has shown it
        later += _read_screens(watching.stdout, 1)
    watching.send_signal(signal.SIGINT)
    output, errors = watching.communicate(timeout=30)
    output = screens_seen + later + output
    assert watching.returncode == 0 and "Traceback" not in errors
    screens = output.split("\x1b[H\x1b[2J")[1:]
    assert len(screens) >= 3
    assert "Jobs: 1 completed, 0 failed" in screens[0]
    assert (
        "Jobs: 1 completed, 1 failed" in screens[-2]
    )  # the last whole screen (the last may be cut)


def _read_screens(stream: Any, count: int) -> str:
    """What ``status --watch`` printed, read until ``count`` more screens began."""
    text = ""
    while text.count("\x1b[H\x1b[2J") < count or not text.endswith("\n"):
        char = stream.read(1)
        assert char, "the watch ended"
        text += char
    return text


def test_output_piped_into_a_reader_that_stops_ends_without_a_traceback(tmp_path: Path) -> None:
    from hydra_python_sweeper.journal.lines import encode, job_line

    lines = [job_line(n, [f"+i={n}"], True, n, str(n), 1.0) for n in range(20_000)]
    (tmp_path / "journal.jsonl").write_bytes(b"".join(map(encode, lines)))
    reading = subprocess.Popen(
        [sys.executable, "-m", "hydra_plugins.hydra_python_sweeper", "results", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert reading.stdout is not None and reading.stderr is not None
    assert reading.stdout.readline().startswith(b"number,status,i,")
    reading.stdout.close()  # as `| head -1` does
    errors = reading.stderr.read().decode()
    assert reading.wait(timeout=60) == 0 and "Traceback" not in errors, errors
