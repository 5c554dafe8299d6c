"""What came of a launched batch, from the journal (:mod:`run.settle`): each job as its end
line says, the others lost with a reason; and a packed sweep's returns, read back from the
journal, the same as a sweep's of one task a job."""

import json
from pathlib import Path
from typing import Any, List, Tuple

import pytest
from hydra.core.utils import JobStatus
from hydra.test_utils.test_utils import TSweepRunner

from hydra_python_sweeper.cluster.slurm import Task
from hydra_python_sweeper.journal.lines import job_line, started_line
from hydra_python_sweeper.journal.writer import append
from hydra_python_sweeper.run.settle import JobFailed, LaunchFailed, settle

APPS = Path(__file__).resolve().parents[1] / "apps"
JOBS = [[f"+x={n}"] for n in range(4)]


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    """Job 0 completed (returning a dict), job 1 failed, job 2 started in SLURM task 7_1 and
    wrote no end, job 3 never started."""
    path = tmp_path / "journal.jsonl"
    append(
        path,
        job_line(0, JOBS[0], True, {"loss": 0.5, "tags": ["a"]}, "0"),
        job_line(1, JOBS[1], False, "ValueError('bad x')", "1"),
        {**started_line(2, JOBS[2]), "slurm": "7_1"},
    )
    return path


@pytest.mark.parametrize("values", [True, False])
def test_each_job_as_its_end_line_says_the_others_lost(journal: Path, values: bool) -> None:
    returns = settle(journal, 0, JOBS, 0, "the launcher raised", values=values)
    assert [r.status for r in returns] == [JobStatus.COMPLETED] + [JobStatus.FAILED] * 3
    assert [r.overrides for r in returns] == JOBS
    # without values (no returns kept, none learnt from) a completed job's is not read
    assert returns[0].return_value == ({"loss": 0.5, "tags": ["a"]} if values else None)
    assert isinstance(returns[1]._return_value, JobFailed)
    assert str(returns[1]._return_value) == "ValueError('bad x')"  # a failure's error, always
    for number in (2, 3):
        lost = returns[number]._return_value
        assert isinstance(lost, LaunchFailed)
        assert str(lost) == f"job #{number} did not end: the launcher raised"


def test_a_packed_job_lost_with_its_task_says_the_task_s_state(journal: Path) -> None:
    """SLURM showed packed task 7_1 NODE_FAIL: job 2, which it had started, says so; job 3,
    which no task took, keeps the batch's reason."""
    ended = {-1: Task("7", 1, -1, "NODE_FAIL", "node2", "p1")}
    returns = settle(journal, 0, JOBS, 0, "its packed task ended", True, lambda: ended, 0.01)
    assert str(returns[2]._return_value) == (
        "job #2 did not end: SLURM state NODE_FAIL of its packed task 7_1"
    )
    assert str(returns[3]._return_value) == "job #3 did not end: its packed task ended"


def test_a_packed_batch_waits_naming_its_running_task(
    journal: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """While a packed batch's tasks run, the wait names the first of them by its SLURM id
    (packed tasks are keyed -1, -2...: no job number to show)."""
    polls = iter([
        {-k: Task("7", k - 1, -k, "RUNNING", f"node{k}", "p1") for k in (1, 2)},
        {-k: Task("7", k - 1, -k, "COMPLETED", "", "p1") for k in (1, 2)},
    ])  # fmt: skip
    with caplog.at_level("INFO"):
        settle(journal, 0, JOBS, 0, "its packed task ended", True, lambda: next(polls), 0.01)
    assert "waiting for 2 tasks SLURM still has queued or running (task 7_0 first)" in caplog.text


def packed_returns(runner: TSweepRunner, tmpdir: Path, *extra: str) -> Tuple[List[Any], int]:
    """The sweep's returns, and how many processes ran its jobs (their started lines')."""
    with runner(
        calling_file=str(APPS / "launched.py"),
        calling_module=None,
        task_function=lambda cfg: {"x": cfg.x, "name": cfg.name, "pair": [cfg.x, -cfg.x]},
        config_path="conf",
        config_name="launched",
        overrides=[
            "hydra/launcher=submitit_local",
            "hydra.launcher.timeout_min=5",
            "hydra.sweeper.entrypoints=[{_target_: launched_spaces.numbered, n: 10}]",
            "hydra.sweeper.max_batch_size=5",
            *extra,
        ],
        temp_dir=tmpdir,
    ) as run:
        lines = [json.loads(line) for line in (tmpdir / "journal.jsonl").open()]
        processes = len({r["pid"] for r in lines if r.get("status") == "started"})
        return [(list(r.overrides), r.status, r.return_value) for b in run.returns for r in b], (
            processes
        )


@pytest.mark.usefixtures("hydra_restore_singletons")
def test_a_packed_sweep_returns_the_values_of_one_task_a_job(
    hydra_sweep_runner: TSweepRunner, tmpdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    monkeypatch.syspath_prepend(str(APPS))
    unpacked, one_a_job = packed_returns(hydra_sweep_runner, Path(tmpdir) / "one")
    packed, in_tasks = packed_returns(
        hydra_sweep_runner, Path(tmpdir) / "packed", "hydra.sweeper.jobs_per_task=3"
    )
    assert packed == unpacked
    assert one_a_job == 10
    # packed: two tasks a batch of 5, each taking jobs as it frees up (a task that starts
    # once its sibling has taken every job runs none)
    assert 2 <= in_tasks <= 4
    assert [value for _, _, value in packed] == [
        {"x": n, "name": f"job {n}", "pair": [n, -n]} for n in range(10)
    ]
