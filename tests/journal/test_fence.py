"""The window between a batch's launch and its jobs' first lines: a sweeper killed there
leaves jobs that start after a resume has begun. They stand down (the fence), and every job
runs to its end exactly once.

The jobs are held in that window by a callback (``tests/apps/gate.py``) that runs before the
journal's, so the race is not left to chance: the test kills the sweeper while its jobs wait
there, starts the resume, and opens the gate at the two instants that matter:

- ``after``: once the resume's run line is in the journal: the orphans must stand down;
- ``between``: while the test holds the journal's lock, the resume and the orphans both
  waiting for it, the resume having read the journal before any orphan wrote a line:
  whichever takes the lock first, either the orphan stands down or the resume sees it start
  (and waits for it).
"""

import fcntl
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import List

import pytest

APPS = Path(__file__).resolve().parents[1] / "apps"
APP = APPS / "durable.py"
#: Kill-and-resume rounds per launcher in the test suite; FENCE_ROUNDS=20 for the README's.
ROUNDS = int(os.environ.get("FENCE_ROUNDS", "1"))
LAUNCHERS = {
    "basic": [],
    # one worker: the batch's queued tasks start one by one, after the resume has begun
    "joblib": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=1"],
    "submitit_local": ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5"],
}


def command(sweep_dir: Path, *extra: str) -> List[str]:
    return [sys.executable, str(APP), "-m", f"hydra.sweep.dir={sweep_dir}", *extra]


def ran(sweep_dir: Path) -> Counter:
    """How many times each job's task ran to its end (the app's own count)."""
    path = sweep_dir / "completions.txt"
    return Counter(int(n) for n in path.read_text().split()) if path.exists() else Counter()


def waiting(sweep_dir: Path) -> List[str]:
    return [p.name for p in sweep_dir.glob("waiting-*")] if sweep_dir.exists() else []


def until(condition, what: str, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.02)


def settled(sweep_dir: Path) -> bool:
    """Whether every job that waited at the gate has ended, or its process is gone."""
    for name in waiting(sweep_dir):
        pid = int(name.rsplit("-", 1)[1])
        if not (sweep_dir / name.replace("waiting", "ended")).exists() and alive(pid):
            return False
    return True


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def lock_waiters(path: Path) -> int:
    """How many processes wait for the ``flock`` of ``path`` (Linux's /proc/locks)."""
    inode = f":{os.stat(path).st_ino} "
    return sum("->" in line and inode in line for line in open("/proc/locks"))


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux's /proc/locks")
@pytest.mark.parametrize("opened", ["after", "between"])
@pytest.mark.parametrize("launcher", list(LAUNCHERS))
def test_jobs_held_in_the_window_when_the_sweeper_dies_run_once(
    tmp_path: Path, launcher: str, opened: str
) -> None:
    if launcher != "basic":
        pytest.importorskip(f"hydra_plugins.hydra_{launcher.split('_')[0]}_launcher")
    for round in range(ROUNDS):
        sweep_dir = tmp_path / f"sweep{round}"
        kill_in_the_window_and_resume(sweep_dir, launcher, opened)
        assert ran(sweep_dir) == Counter(range(12)), f"round {round}: {ran(sweep_dir)}"


def kill_in_the_window_and_resume(sweep_dir: Path, launcher: str, opened: str) -> None:
    """One round: the first batch's jobs held at the gate, the sweeper killed, the resume
    started, the gate opened (``after`` the resume's run line, or ``between`` its reading
    of the journal and its run line); the resume run again while an orphan may still run."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(APPS), os.environ.get("PYTHONPATH", "")]),
    }
    arguments = [
        *LAUNCHERS[launcher], "batch=6", "sleep=0.2", "+hydra.callbacks.gate._target_=gate.Gate"
    ]  # fmt: skip
    journal = sweep_dir / "journal.jsonl"
    log = sweep_dir.parent / f"{sweep_dir.name}.log"  # not a pipe: orphans would hold it open
    run = {"cwd": sweep_dir.parent, "env": env, "stderr": subprocess.STDOUT}
    sweeper = subprocess.Popen(command(sweep_dir, *arguments), stdout=open(log, "w"), **run)
    until(lambda: waiting(sweep_dir), "a job of the first batch at the gate")
    time.sleep(0.3)  # the batch's other processes reach the gate too
    sweeper.send_signal(signal.SIGKILL)  # the sweeper alone: its batch's jobs may go on
    sweeper.wait()
    time.sleep(0.5)  # those that die with it (basic's, joblib's workers) are gone
    held = sum(alive(int(name.rsplit("-", 1)[1])) for name in waiting(sweep_dir))
    if launcher == "submitit_local":
        assert held > 0  # its jobs outlive the sweeper: the window is real
    assert "started" not in journal.read_text()  # the window: no job line yet
    resume = [*command(sweep_dir, *arguments), "hydra.sweeper.resume=true"]
    lock = None
    if opened == "between":  # the resume, then the orphans, wait for the journal's lock
        lock = open(journal, "rb")
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
    resumed = subprocess.Popen(resume, stdout=open(log, "w"), **run)
    if lock is not None:
        until(lambda: lock_waiters(journal) >= 1, "the resume at the lock, the journal read")
        (sweep_dir / "open").touch()
        until(lambda: lock_waiters(journal) >= 1 + held, f"{held} orphans at the lock too")
        lock.close()  # whoever takes it first
    else:
        until(lambda: '"run": 2' in journal.read_text(), "the resume's run line")
        (sweep_dir / "open").touch()
    while resumed.wait(timeout=300) != 0:  # (a resume that refused: another host's job)
        assert "may still be running" in log.read_text(), log.read_text()[-3000:]
        time.sleep(0.5)
        resumed = subprocess.Popen(resume, stdout=open(log, "w"), **run)
    until(lambda: settled(sweep_dir), "every job that passed the gate to end or die")


def test_a_job_of_an_older_run_writes_nothing_and_its_task_is_not_called(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import JobReturn, JobStatus
    from omegaconf import OmegaConf

    from hydra_python_sweeper.journal.admission import start_journal
    from hydra_python_sweeper.journal.fence import Fence, Superseded
    from hydra_python_sweeper.journal.writer import JournalCallback
    from hydra_python_sweeper.run.task import ExitIsFailure

    settings = {"max_batch_size": 2, "num_shards": 1, "shard_index": 0}
    path = start_journal(tmp_path, {"entrypoints": []}, settings, None, False)  # run 1
    config = OmegaConf.create(
        {"hydra": {"job": {"num": 3}, "overrides": {"task": ["a=3"]}, "runtime": {}}}
    )
    old = JournalCallback(str(path), Fence(str(tmp_path), shard=0, run=1))
    old.on_job_start(config)  # run 1 is the newest: it starts
    assert '"status": "started"' in path.read_text().splitlines()[-1]
    before = path.read_text()
    from hydra_python_sweeper.journal.reader import read

    runs = read(path)
    start_journal(tmp_path, {"entrypoints": []}, settings, runs, True)  # run 2 begins
    after_run_2 = path.read_text()
    assert after_run_2.startswith(before)
    old.on_job_start(config)  # a job of run 1 that starts now
    assert path.read_text() == after_run_2  # wrote nothing
    called = []
    task = ExitIsFailure(lambda cfg: called.append(cfg))
    monkeypatch.setattr(HydraConfig, "initialized", staticmethod(lambda: True))
    monkeypatch.setattr(HydraConfig, "get", staticmethod(lambda: config.hydra))
    with pytest.raises(Superseded, match="job #3 started after a newer run"):
        task(config)
    assert called == []
    old.on_job_end(config, JobReturn(overrides=["a=3"], status=JobStatus.FAILED))
    assert path.read_text() == after_run_2  # its end neither
    new = JournalCallback(str(path), Fence(str(tmp_path), shard=0, run=2))
    new.on_job_start(config)  # run 2's own job starts
    assert path.read_text() != after_run_2
