"""What SLURM is asked of a sweep: one ``squeue`` a poll for every batch in flight, of this
user's jobs only. A stand-in ``squeue`` on the PATH records each call (the SLURM tests ask
a real one)."""

import os
import stat
import threading
from pathlib import Path
from typing import List

import pytest

from hydra_python_sweeper.cluster.slurm import TaskPoll, batch_comment, sweep_tasks


@pytest.fixture
def squeue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``squeue`` that lists one running task of the sweep in ``tmp_path / 'sweep'`` and
    writes each call's arguments, a line a call, to the file it returns."""
    calls = tmp_path / "calls"
    tag = batch_comment(tmp_path / "sweep", 0, "p1234567")
    script = tmp_path / "bin" / "squeue"
    script.parent.mkdir()
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {calls}\n'
        "sleep 0.2\n"  # long enough for callers to overlap
        f'echo "7_0|7|0|RUNNING|{tag}|node1"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    calls.touch()
    return calls


def test_the_batches_in_flight_share_one_squeue_a_poll(squeue: Path, tmp_path: Path) -> None:
    poll = TaskPoll(tmp_path / "sweep", every=60.0)
    seen: List[object] = []
    threads = [threading.Thread(target=lambda: seen.append(poll())) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(squeue.read_text().splitlines()) == 1  # five batches asked, SLURM once
    assert len(seen) == 5 and all(tasks == seen[0] for tasks in seen)
    assert [(t.job_id, t.state, t.launch) for t in seen[0]] == [("7_0", "RUNNING", "p1234567")]
    poll(fresh=True)  # a batch whose launch has just ended asks now
    assert len(squeue.read_text().splitlines()) == 2


def test_a_poll_older_than_its_interval_is_asked_again(squeue: Path, tmp_path: Path) -> None:
    poll = TaskPoll(tmp_path / "sweep", every=0.0)
    poll()
    poll()
    assert len(squeue.read_text().splitlines()) == 2


def test_the_launching_process_asks_for_its_own_user_s_jobs_only(
    squeue: Path, tmp_path: Path
) -> None:
    TaskPoll(tmp_path / "sweep", every=60.0)()
    sweep_tasks(tmp_path / "sweep")  # status and cancel: every user's (a shared sweep dir)
    mine, everyone = squeue.read_text().splitlines()
    assert f"--user {os.getuid()}" in mine
    assert "--user" not in everyone
