"""The window between a batch's launch and its jobs' first lines: a sweeper killed there
leaves jobs that start after a resume has begun. They stand down (the fence), and every job
runs to its end exactly once."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import List

import pytest

APP = Path(__file__).resolve().parent / "apps" / "durable.py"
#: Kill-and-resume rounds per launcher in the test suite; FENCE_ROUNDS=20 for the README's.
ROUNDS = int(os.environ.get("FENCE_ROUNDS", "1"))


def command(sweep_dir: Path, *extra: str) -> List[str]:
    return [sys.executable, str(APP), "-m", f"hydra.sweep.dir={sweep_dir}", *extra]


def ran(sweep_dir: Path) -> Counter:
    """How many times each job's task ran to its end (the app's own count)."""
    path = sweep_dir / "completions.txt"
    return Counter(int(n) for n in path.read_text().split()) if path.exists() else Counter()


@pytest.mark.parametrize(
    "launcher",
    [
        # one worker: the batch's queued tasks start one by one, long after the kill, when
        # the resume has begun (the orphaned worker takes them)
        ["hydra/launcher=joblib", "hydra.launcher.n_jobs=1", "batch=6"],
        ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5", "batch=6"],
    ],
    ids=["joblib", "submitit_local"],
)
def test_jobs_that_start_after_a_resume_began_stand_down(
    tmp_path: Path, launcher: List[str]
) -> None:
    pytest.importorskip(f"hydra_plugins.hydra_{launcher[0].split('=')[1].split('_')[0]}_launcher")
    for round in range(ROUNDS):
        sweep_dir = tmp_path / f"sweep{round}"
        arguments = [*launcher, "sleep=1.5"]
        log = open(tmp_path / f"sweeper{round}.log", "w")
        process = subprocess.Popen(
            command(sweep_dir, *arguments), stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path
        )
        deadline = time.monotonic() + 60
        while "Batch 2 : " not in (tmp_path / f"sweeper{round}.log").read_text():
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)  # the sweeper alone: its batch's jobs go on
        process.wait()
        while True:  # at once, and again while a job that started before it may still run
            resumed = subprocess.run(
                [*command(sweep_dir, *arguments), "hydra.sweeper.resume=true"],
                capture_output=True,
                text=True,
                cwd=tmp_path,
                timeout=300,
            )
            if resumed.returncode == 0:
                break
            assert "may still be running" in resumed.stderr, resumed.stderr[-2000:]
            time.sleep(1)
        time.sleep(4)  # an orphan that stood down would have ended by now
        assert ran(sweep_dir) == Counter(range(12)), f"round {round}: {ran(sweep_dir)}"


def test_a_job_of_an_older_run_writes_nothing_and_its_task_is_not_called(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import JobReturn, JobStatus
    from omegaconf import OmegaConf

    from hydra_plugins.hydra_python_sweeper._admission import start_journal
    from hydra_plugins.hydra_python_sweeper._fence import Fence, Superseded
    from hydra_plugins.hydra_python_sweeper._task import ExitIsFailure
    from hydra_plugins.hydra_python_sweeper._writer import JournalCallback

    settings = {"max_batch_size": 2, "num_shards": 1, "shard_index": 0}
    path = start_journal(tmp_path, {"entrypoints": []}, settings, None, False)  # run 1
    config = OmegaConf.create(
        {"hydra": {"job": {"num": 3}, "overrides": {"task": ["a=3"]}, "runtime": {}}}
    )
    old = JournalCallback(str(path), Fence(str(tmp_path), shard=0, run=1))
    old.on_job_start(config)  # run 1 is the newest: it starts
    assert '"status": "started"' in path.read_text().splitlines()[-1]
    before = path.read_text()
    from hydra_plugins.hydra_python_sweeper._reader import read

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
