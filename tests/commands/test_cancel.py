"""``cancel``, ``status`` and a resume against what a file says but cannot prove: reused pids,
forged started lines, command lines that merely contain the sweep's path, a lock's text.

Every process here is real; a pid is reused on purpose by writing the kernel's
``ns_last_pid`` (as root; skipped where that cannot be done)."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from hydra_python_sweeper.cluster.liveness import alive_here, running_elsewhere
from hydra_python_sweeper.commands.cancel import cancel_sweep
from hydra_python_sweeper.commands.status import render, sweep_status
from hydra_python_sweeper.journal.lines import FILENAME, encode
from hydra_python_sweeper.journal.origin import process_start
from hydra_python_sweeper.journal.reader import read
from hydra_python_sweeper.space.stages import job_digest

SLEEP = [sys.executable, "-c", "import time; time.sleep(600)"]


@pytest.fixture
def processes() -> Iterator[List[subprocess.Popen]]:
    """Processes the test starts; none is left behind."""
    started: List[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


def spawn(processes: List[subprocess.Popen], argv: List[str], **kwargs: Any) -> subprocess.Popen:
    process = subprocess.Popen(argv, **kwargs)
    processes.append(process)
    return process


def started_line(job: int, pid: int, since: Any = None, host: str = "") -> Dict[str, Any]:
    overrides = [f"x={job}"]
    line = {"job": job, "status": "started", "digest": job_digest(overrides).hex()}
    line.update(host=host or socket.gethostname(), pid=pid, at=time.time())
    if since is not None:
        line["since"] = since
    return line


def journal(sweep_dir: Path, *lines: Dict[str, Any]) -> Path:
    sweep_dir.mkdir(parents=True, exist_ok=True)
    run = {"run": 1, "version": "0.6.0", "host": socket.gethostname(), "at": time.time() - 60}
    path = sweep_dir / FILENAME
    path.write_bytes(b"".join(encode(line) for line in (run, *lines)))
    return path


def alive(process: subprocess.Popen) -> bool:
    return process.poll() is None


def spawn_with_pid(processes: List[subprocess.Popen], pid: int) -> subprocess.Popen:
    """A ``sleep`` that takes the pid of a process that has ended (a reused pid). Not within
    the same clock tick (10 ms) as the first started: start times are counted in ticks, and
    a pid comes back only once the kernel has gone through every other one."""
    time.sleep(0.05)
    for _ in range(50):
        try:
            with open("/proc/sys/kernel/ns_last_pid", "w") as f:
                f.write(str(pid - 1))
        except OSError as error:
            pytest.skip(f"cannot set the next pid here: {error}")
        process = spawn(processes, SLEEP)
        if process.pid == pid:
            return process
        process.kill()
        process.wait()
    pytest.skip("another process took the pid each time")


def test_a_reused_pid_is_not_the_job(tmp_path: Path, processes: List[subprocess.Popen]) -> None:
    """The job's process died with the sweeper (SIGKILL); an unrelated process took its pid.
    status does not show it running, a resume does not adopt or wait for it, and cancel does
    not signal it."""
    job = spawn(processes, SLEEP)
    line = started_line(1, job.pid, process_start(job.pid))
    job.kill()
    job.wait()
    stranger = spawn_with_pid(processes, job.pid)
    path = journal(tmp_path / "sweep", line)

    state = read(path)
    assert alive_here(state) == [] and running_elsewhere(state) == []
    status = sweep_status(tmp_path / "sweep")
    assert status.running == 0 and [r.job for r in status.stopped] == [1]
    assert "Stopped without an end: #1" in render(status)
    said = cancel_sweep(tmp_path / "sweep", wait=1.0)
    assert "Nothing of the sweep was running" in said
    time.sleep(0.2)
    assert alive(stranger)


def test_a_forged_started_line_signals_nothing(
    tmp_path: Path, processes: List[subprocess.Popen]
) -> None:
    """Started lines naming a process that is not the job: without a start time (a line of
    0.5), with a start time that is not the process's. Neither is signalled."""
    old, other = spawn(processes, SLEEP), spawn(processes, SLEEP)
    journal(
        tmp_path / "sweep",
        started_line(0, old.pid),  # unproven: named, left alone
        started_line(1, other.pid, since=(process_start(other.pid) or 0) + 7),  # not it
    )
    said = cancel_sweep(tmp_path / "sweep", wait=1.0)
    assert f"Left alone pid {old.pid}: job #0's started line names it" in said
    assert str(other.pid) not in said
    time.sleep(0.2)
    assert alive(old) and alive(other)


def test_cancel_stops_a_job_whose_process_is_proved(
    tmp_path: Path, processes: List[subprocess.Popen]
) -> None:
    job = spawn(processes, SLEEP)
    journal(tmp_path / "sweep", started_line(3, job.pid, process_start(job.pid)))
    said = cancel_sweep(tmp_path / "sweep", wait=5.0)
    assert f"Stopped job #3 (pid {job.pid}, SIGTERM)" in said
    assert job.wait(timeout=10) == -signal.SIGTERM


def executor_argv(folder: Path) -> List[str]:
    """A process whose command line is submitit's local executor task for ``folder``."""
    code = "import time; time.sleep(600)"
    return [sys.executable, "-c", code, "-u", "-m", "submitit.core._submit", str(folder)]


def test_only_the_sweep_s_own_local_executor_is_stopped(
    tmp_path: Path, processes: List[subprocess.Popen]
) -> None:
    """Command lines that contain the sweep's path are not proof: a user's ``tail -f`` of a
    log, another sweep whose dir holds this one's path, a SLURM task of this sweep (SLURM's to
    cancel) are left alone; the sweep's own local executor is stopped."""
    sweep_dir = tmp_path / "A"
    journal(sweep_dir)
    folder = sweep_dir / ".submitit" / "7"
    folder.mkdir(parents=True)
    (folder / "7_log.out").write_text("")
    local = dict(os.environ, SUBMITIT_EXECUTOR="local")
    nested = tmp_path / "B" / str(sweep_dir).lstrip("/") / ".submitit" / "7"
    nested.mkdir(parents=True)
    tail = spawn(processes, ["tail", "-f", str(folder / "7_log.out")])
    other = spawn(processes, executor_argv(nested), env=local)
    slurm_task = spawn(processes, executor_argv(folder), env=dict(local, SUBMITIT_EXECUTOR="slurm"))
    ours = spawn(processes, executor_argv(folder), env=local)
    time.sleep(0.3)  # their command lines are in /proc
    said = cancel_sweep(sweep_dir, wait=5.0)
    assert f"Stopped a process of the local executor (pid {ours.pid}" in said
    assert ours.wait(timeout=10) < 0
    for pid in (tail.pid, other.pid, slurm_task.pid):
        assert str(pid) not in said
    assert alive(tail) and alive(other) and alive(slurm_task)


HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, sys.argv[2].encode())
print("held", flush=True)
time.sleep(600)
"""


def test_cancel_signals_the_lock_s_holder_not_the_pid_its_text_names(
    tmp_path: Path, processes: List[subprocess.Popen]
) -> None:
    sweep_dir = tmp_path / "sweep"
    journal(sweep_dir)
    named = spawn(processes, SLEEP)
    text = f"pid {named.pid} on host {socket.gethostname()}, since now, no shards\n"
    holder = spawn(
        processes,
        [sys.executable, "-c", HOLD, str(sweep_dir / ".shard-0.lock"), text],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    said = cancel_sweep(sweep_dir, wait=5.0)
    assert f"Stopped the sweeper (pid {holder.pid}, SIGTERM)" in said
    assert holder.wait(timeout=10) == -signal.SIGTERM
    assert alive(named) and str(named.pid) not in said


def test_status_and_cancel_refuse_a_journal_that_is_a_fifo(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    os.mkfifo(sweep_dir / FILENAME)
    for arguments in (["status", sweep_dir], ["cancel", sweep_dir]):
        done = subprocess.run(
            [sys.executable, "-m", "hydra_python_sweeper", *map(str, arguments)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 1
        assert "journal.jsonl is a FIFO, not a regular file" in done.stderr + done.stdout
        assert "Traceback" not in done.stderr


def test_status_of_a_failed_line_nested_deep_is_one_clear_error(tmp_path: Path) -> None:
    """A hand-made line nested 100,000 deep, with a check that matches: the status names the
    file and the job's line, without a traceback."""
    from hydra_python_sweeper.journal.lines import _CHECK, _check

    path = journal(tmp_path / "sweep")
    digest = job_digest(["x=0"]).hex()
    text = b'{"job": 0, "status": "failed", "digest": "%s", "return": %s%s' % (
        digest.encode(), b"[" * 100_000, b"]" * 100_000,
    )  # fmt: skip
    with open(path, "ab") as f:
        f.write(b'%s%s%s"}\n' % (text, _CHECK, _check(text).encode()))
    done = subprocess.run(
        [sys.executable, "-m", "hydra_python_sweeper", "status", str(tmp_path / "sweep")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout
    assert "Traceback" not in done.stderr and "RecursionError" not in done.stderr
    assert f"{path}" in done.stderr and "job #0" in done.stderr
    assert "not JSON (or nested too deep)" in done.stderr


def test_the_pace_counts_each_job_once(tmp_path: Path) -> None:
    now = time.time()
    lines = []
    for job in range(5):
        end = {"job": job, "status": "completed", "digest": job_digest([f"x={job}"]).hex()}
        lines.append({**end, "at": now - 30, "started": now - 31})
    for job in range(4):  # four of them ran again (a resume after failures, say)
        lines.append({**lines[job], "at": now - 10, "started": now - 11})
    journal(tmp_path / "sweep", *lines)
    status = sweep_status(tmp_path / "sweep", now=now)
    assert status.completed == 5 and status.first_start is not None
    minutes = (now - status.first_start) / 60
    assert status.overall_per_minute == pytest.approx(5 / minutes)


def test_a_pending_driver_is_shown_as_slurm_has_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver is the job SLURM lists with the sweep's driver tag (``squeue`` stands in
    here; the SLURM tests ask a real one), its reason shown once, SLURM's ``None`` not."""
    from hydra_python_sweeper.cluster.slurm import Task
    from hydra_python_sweeper.commands import status as module

    journal(tmp_path / "sweep")
    (tmp_path / "sweep" / "driver.slurm").write_text("12\n")
    pending = [Task("9", -1, -1, "PENDING", "(None)")]
    monkeypatch.setattr(module, "sweep_drivers", lambda sweep_dir: pending)
    text = render(sweep_status(tmp_path / "sweep"))
    assert "waiting for its driver to start" in text
    assert "Driver: SLURM job 9, PENDING\n" in text and "None" not in text
    monkeypatch.setattr(module, "sweep_drivers", lambda sweep_dir: [])
    text = render(sweep_status(tmp_path / "sweep"))
    assert "Driver: no SLURM job of this sweep's driver is queued or running" in text
    assert "not running (resume it below)" in text


@pytest.mark.parametrize(
    "ends, said",
    [
        ([{"done": 1, "failed": 0}], "The sweep had finished, every job completed: there is"),
        ([{"done": 1, "failed": 1}], "hydra.sweeper.retry_failed=true runs them again"),
        ([], "A later resume carries on: hydra.sweeper.resume=true"),
    ],
)
def test_cancel_says_what_a_resume_would_do_by_how_the_sweep_ended(
    tmp_path: Path, ends: List[Dict[str, Any]], said: str
) -> None:
    sweep_dir = tmp_path / "sweep"
    ended = {"job": 0, "status": "completed", "digest": job_digest(["x=0"]).hex()}
    journal(sweep_dir, ended, *ends)
    message = cancel_sweep(sweep_dir)
    assert said in message
    assert ("A later resume carries on" in message) == (not ends)


def test_cancel_stops_the_workers_a_killed_sweep_left_behind(tmp_path: Path) -> None:
    """A joblib sweep SIGKILLed while a job runs leaves its pool's workers behind, orphaned,
    the idle ones too (and loky's resource tracker); they carry the sweep's mark, and
    ``cancel`` stops them: no process of the sweep is left."""
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    from hydra_python_sweeper.cluster.processes import marked

    sweep_dir = tmp_path / "sweep"
    app = Path(__file__).resolve().parents[1] / "apps" / "durable.py"
    sweeper = subprocess.Popen(
        [sys.executable, str(app), "-m", f"hydra.sweep.dir={sweep_dir}",
         "hydra/launcher=joblib", "hydra.launcher.n_jobs=3", "batch=2", "hold_from=1",
         f"hold={tmp_path / 'never'}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while read_started(sweep_dir) < 2:  # job #1 holds its worker; the others idle
            assert time.monotonic() < deadline and sweeper.poll() is None
            time.sleep(0.1)
    finally:
        sweeper.kill()
        sweeper.wait()
    left = marked(sweep_dir)
    assert len(left) >= 2  # the workers at least, orphaned
    said = cancel_sweep(sweep_dir, wait=5)
    deadline = time.monotonic() + 30
    while marked(sweep_dir):
        assert time.monotonic() < deadline, (marked(sweep_dir), said)
        time.sleep(0.1)
    assert "Stopped" in said or "stopped" in said, said


def read_started(sweep_dir: Path) -> int:
    path = sweep_dir / FILENAME
    if not path.exists():
        return 0
    return path.read_text().count('"status": "started"')
