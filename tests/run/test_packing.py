"""``hydra.sweeper.jobs_per_task``: a batch's jobs packed into a few tasks of submitit's
local executor (the cluster's are in tests/end_to_end/test_slurm.py), and its settings."""

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from hydra_python_sweeper.errors import SettingError
from hydra_python_sweeper.run.settings import Settings

APPS = Path(__file__).resolve().parents[1] / "apps"


def sweep(sweep_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable, str(APPS / "launched.py"), "-m", f"hydra.sweep.dir={sweep_dir}",
            "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5", *extra,
        ],
        capture_output=True, text=True, timeout=300, cwd=sweep_dir.parent,
    )  # fmt: skip


def test_a_packed_sweep_runs_each_job_once_with_its_own_config(tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    sweep_dir = tmp_path / "sweep"
    done = sweep(
        sweep_dir,
        "hydra.sweeper.entrypoints=[{_target_: launched_spaces.numbered, n: 20}]",
        "hydra.sweeper.max_batch_size=10",
        "hydra.sweeper.jobs_per_task=4",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    log = done.stdout + done.stderr
    assert log.count("in 3 tasks of up to 4 jobs") == 2  # 10 jobs: 3 tasks, twice
    records = [json.loads((sweep_dir / str(n) / "job.json").read_text()) for n in range(20)]
    assert [r["num"] for r in records] == list(range(20))
    assert all(r["cfg"] == {"x": r["num"], "name": f"job {r['num']}"} for r in records)
    # each task ran several jobs in its one process: fewer processes than jobs
    assert len(Counter(r["pid"] for r in records)) <= 6
    lines = [json.loads(line) for line in (sweep_dir / "journal.jsonl").read_text().splitlines()]
    assert sorted(r["job"] for r in lines if r.get("status") == "completed") == list(range(20))
    # the launcher's files go once a batch's tasks have ended with every job completed
    assert not [p for p in (sweep_dir / ".submitit").rglob("*") if not p.is_dir()]
    assert "Sweep done: 20 completed, 0 failed" in log


def test_a_job_that_exits_in_a_packed_task_ends_only_itself(tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    sweep_dir = tmp_path / "sweep"
    done = subprocess.run(
        [
            sys.executable, str(APPS / "exits.py"), "-m", f"hydra.sweep.dir={sweep_dir}",
            "how=exit", "code=3", "hydra.sweeper.fail_fast=false",
            "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5",
            "hydra.sweeper.max_batch_size=7", "hydra.sweeper.jobs_per_task=7",
        ],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    log = done.stdout + done.stderr
    assert done.returncode == 1, log[-3000:]
    assert "in 1 tasks of up to 7 jobs" in log
    assert "Sweep done: 6 completed, 1 failed" in log
    assert "1 job of 7 failed (#4)" in log
    # the task's logs are kept, and say which of its jobs failed; its pickles are gone
    files = [p for p in (sweep_dir / ".submitit").rglob("*") if not p.is_dir()]
    assert sorted(p.suffix for p in files) == [".err", ".out"]
    assert "job #4 failed: TaskExited('the task called sys.exit(3)')" in "".join(
        p.read_text() for p in files
    )


@pytest.mark.parametrize("value", [0, -2, 1.5, "3"])
def test_jobs_per_task_is_a_positive_integer(value: object) -> None:
    with pytest.raises(SettingError, match=f"jobs_per_task={value!r}: expected an integer"):
        Settings.of({"jobs_per_task": value})


def test_packing_needs_a_submitit_launcher() -> None:
    class JoblibLauncher:
        pass

    with pytest.raises(SettingError, match="packs jobs into the tasks of hydra-submitit"):
        Settings.of({"jobs_per_task": 4}, JoblibLauncher())
    local = type("LocalLauncher", (), {"_EXECUTOR": "local"})()
    assert Settings.of({"jobs_per_task": 4}, local).jobs_per_task == 4


def test_max_array_size_is_checked_on_a_packed_batch_s_tasks(tmp_path: Path) -> None:
    """A packed batch is one array of ceil(N / jobs_per_task) tasks: SLURM's MaxArraySize
    bounds those, not the jobs."""
    from hydra_python_sweeper.run.launch import BatchLauncher
    from hydra_python_sweeper.run.packing import PackedLauncher

    slurm = type("SlurmLauncher", (), {"_EXECUTOR": "slurm", "params": {}})()
    batches = BatchLauncher(PackedLauncher(slurm, 10, tmp_path), tmp_path, tmp_path / "j")
    batches.limit = 1001
    batches.check(0, 10_010)  # 1001 tasks
    with pytest.raises(SettingError, match="10020 jobs in 1002 tasks, but this SLURM"):
        batches.check(0, 10_020)
    with pytest.raises(SettingError, match="max_batch_size to at most 10010"):
        batches.check(0, 10_020)


@pytest.mark.parametrize("where", ["write_pack", "write_state", "map_array"])
def test_a_ctrl_c_while_a_packed_batch_is_handed_over_leaves_no_pack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """A Ctrl-C landing while the batch's pack is written, or its tasks submitted: the
    pack's files go with the interrupted launch (a resume writes its own)."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    import submitit

    from hydra_python_sweeper.run import packing

    def interrupted(*args: object, **kwargs: object) -> None:
        if where == "write_pack":  # part of it written already
            args[0].write_text("[0, ")  # type: ignore[attr-defined]
        raise KeyboardInterrupt

    if where == "map_array":
        monkeypatch.setattr(submitit.AutoExecutor, "map_array", interrupted)
    else:
        monkeypatch.setattr(packing, where, interrupted)
    params = {"submitit_folder": str(tmp_path / ".submitit"), "timeout_min": 5}
    local = type("LocalLauncher", (), {"_EXECUTOR": "local", "params": params})()
    with pytest.raises(KeyboardInterrupt):
        packing.PackedLauncher(local, 4, tmp_path).launch([["+x=1"], ["+x=2"]], 0)
    assert (tmp_path / ".packs").is_dir() and not list((tmp_path / ".packs").iterdir())
