"""Jobs packed into SLURM tasks (``jobs_per_task``) on a real SLURM cluster: each job runs
once whatever happens to its task (cancelled, requeued, at its time limit, lost with its
node) or to the sweeper (killed, resumed); the ledger the jobs write counts their runs."""

import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any, List

import pytest
from slurm_cluster import (  # noqa: F401  (the fixtures)
    _cancel_what_is_left,
    check_each_job_once,
    journal,
    ledger,
    numbered,
    runs,
    start,
    sweep,
    sweep_dir,
    tasks_of,
    wait_until,
)

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm")]


def slurm_ids(sweep_dir: Path) -> Counter:
    """How many jobs each SLURM task ran, from the ledger's starts."""
    return Counter(r["slurm"] for r in ledger(sweep_dir) if r["event"] == "start")


def test_packed_batches_in_flight_run_each_job_once_in_few_tasks(sweep_dir: Path) -> None:
    """60 jobs in batches of 20 packed 10 a task, 2 batches in flight: 6 tasks, each job
    once with its own config; uneven jobs (every fifth slow) leave no task idle while its
    batch has jobs waiting: a batch's jobs are taken as tasks free up."""
    done = sweep(
        sweep_dir,
        numbered(60),
        "hydra.sweeper.max_batch_size=20",
        "hydra.sweeper.max_in_flight=2",
        "hydra.sweeper.jobs_per_task=10",
        "sleep=0.2",
        "slow=2",
        "slow_jobs=[0,5,10,15,20,25,30,35,40,45,50,55]",
    )
    assert done.returncode == 0, done.stdout[-3000:]
    check_each_job_once(sweep_dir, 60)
    tasks = slurm_ids(sweep_dir)
    assert len(tasks) == 6 and sum(tasks.values()) == 60
    assert "packed: jobs #0 to #19 in 2 tasks of up to 10 jobs" in done.stdout
    started = [r for r in journal(sweep_dir) if r.get("status") == "started"]
    assert {r["job"]: r["slurm"] for r in started} == {
        r["num"]: r["slurm"] for r in ledger(sweep_dir) if r["event"] == "start"
    }
    assert "Sweep done: 60 completed, 0 failed" in done.stdout
    assert not list((sweep_dir / ".packs").iterdir())  # a batch's files go once it ended


def test_a_packed_task_cancelled_loses_only_its_unfinished_jobs(sweep_dir: Path) -> None:
    """One of two packed tasks cancelled mid-batch: the jobs it ended stay ended, the one it
    was running is launched again (retries=1), the jobs it had not taken ran in the other
    task: every job ends exactly once."""
    arguments = [
        numbered(12), "hydra.sweeper.jobs_per_task=6", "hydra.sweeper.retries=1",
        "sleep=1", "slow=20", "slow_jobs=[3]",
    ]  # fmt: skip
    process = start(sweep_dir, *arguments)

    def slow_one() -> Any:
        return next((r["slurm"] for r in ledger(sweep_dir) if r["num"] == 3), None)

    task = wait_until(slow_one, 120, "job 3 to start")
    subprocess.run(["scancel", task], check=True)
    assert process.wait(timeout=240) == 0, (sweep_dir.parent / "sweeper.log").read_text()[-3000:]
    log = (sweep_dir.parent / "sweeper.log").read_text()
    assert "Sweep done: 12 completed, 0 failed" in log
    assert runs(sweep_dir) == Counter(range(12))  # each ended once
    assert runs(sweep_dir, "start")[3] == 2  # cancelled in its task, then run again
    assert all(count == 1 for num, count in runs(sweep_dir, "start").items() if num != 3)


def test_the_sweeper_killed_while_packed_tasks_run_is_resumed_at_once(sweep_dir: Path) -> None:
    """The sweeper SIGKILLed while its packed tasks run (three of them in a slow job), resumed
    at once: it adopts the jobs the running tasks' started lines name, the jobs those tasks
    take from then on stand down, and the resume runs them: every job ends once."""
    arguments = [
        numbered(24), "hydra.sweeper.max_batch_size=12", "hydra.sweeper.jobs_per_task=4",
        "sleep=0.5", "slow=15", "slow_jobs=[1,5,9]",
    ]  # fmt: skip
    process = start(sweep_dir, *arguments)

    def slow_ones_running() -> bool:
        return {1, 5, 9} <= set(runs(sweep_dir, "start"))

    wait_until(slow_ones_running, 120, "the slow jobs to start")
    process.kill()
    process.wait()
    done = sweep(sweep_dir, *arguments, "hydra.sweeper.resume=true")
    assert done.returncode == 0, done.stdout[-3000:]
    assert re.search(r"still run: #1 \(SLURM task \d+_\d+\)", done.stdout), done.stdout[-3000:]
    assert "They are adopted" in done.stdout
    wait_until(lambda: not tasks_of(sweep_dir), 60, "no task of the sweep left")
    check_each_job_once(sweep_dir, 24)


@pytest.mark.parametrize(
    "interrupt",
    [["scontrol", "requeue"], ["scancel", "--signal=USR2"]],
    ids=["requeued", "time-limit"],
)
def test_a_packed_task_requeued_or_at_its_time_limit_takes_up_where_its_batch_is(
    sweep_dir: Path, interrupt: List[str]
) -> None:
    """A packed task (of two, 20 jobs each) requeued by SLURM while it runs job #1 (as
    preemption would), or sent SLURM's signal before its time limit (USR2, which submitit
    asks for before it; sent now by scancel rather than by the clock: the task checkpoints
    and is requeued): started again, it takes the batch's jobs no task has taken yet. Job #1
    wrote no end (lost, not failed: submitit's exit is the task's) and runs again under
    ``retries``: every job ends once."""
    arguments = [
        numbered(40), "hydra.sweeper.jobs_per_task=20", "hydra.sweeper.retries=1",
        "sleep=0.5", "slow=15", "slow_jobs=[1]",
    ]  # fmt: skip
    process = start(sweep_dir, *arguments)
    task = wait_until(
        lambda: next((r["slurm"] for r in ledger(sweep_dir) if r["num"] == 1), None),
        120,
        "job 1 to start",
    )
    subprocess.run([*interrupt, task], check=True)
    assert process.wait(timeout=240) == 0, (sweep_dir.parent / "sweeper.log").read_text()[-3000:]
    assert runs(sweep_dir) == Counter(range(40))  # every job ended once
    assert runs(sweep_dir, "start")[1] == 2  # job 1: cut, then run again
    assert all(count == 1 for num, count in runs(sweep_dir, "start").items() if num != 1)
    records = journal(sweep_dir)
    failed = [r["return"] for r in records if r.get("job") == 1 and r.get("status") == "failed"]
    assert all("did not end" in reason for reason in failed), failed  # lost, not its failure
    assert "Sweep done: 40 completed, 0 failed" in (sweep_dir.parent / "sweeper.log").read_text()
    restarted = [r for r in records if r.get("restart") == 1]
    assert restarted, "no job started in the requeued task"
    assert all(r["job"] != 1 for r in restarted)  # it took new jobs, not job 1 again


@pytest.mark.cluster_wide
def test_a_packed_task_lost_with_its_node_loses_only_its_unfinished_job(sweep_dir: Path) -> None:
    """Two packed tasks of 12 jobs each on two nodes; the node of the one running slow job
    #3 goes down (SLURM fails its task, NODE_FAIL, and does not requeue it): the jobs that
    task ended stay ended, job #3 is launched again (``retries=1``), the jobs it had not
    taken run in the other task. Every job ends once; job #3 starts twice."""
    arguments = [
        numbered(24), "hydra.sweeper.jobs_per_task=12", "hydra.sweeper.retries=1",
        "sleep=1", "slow=30", "slow_jobs=[3]",
        "+hydra.launcher.additional_parameters={no-requeue: true}",
    ]  # fmt: skip
    process = start(sweep_dir, *arguments)

    def both_tasks_running() -> Any:
        started = [r for r in ledger(sweep_dir) if r["event"] == "start"]
        tasks = {r["slurm"]: r["node"] for r in started}
        slow = next((r for r in started if r["num"] == 3), None)
        return (tasks, slow) if len(tasks) == 2 and slow is not None else None

    tasks, slow = wait_until(both_tasks_running, 120, "both tasks to run, job 3 started")
    assert len(set(tasks.values())) == 2, tasks  # LLN=YES: one task a node
    node = slow["node"]
    try:
        subprocess.run(
            ["scontrol", "update", f"NodeName={node}", "State=DOWN", "Reason=test"], check=True
        )
        assert process.wait(timeout=300) == 0, (sweep_dir.parent / "sweeper.log").read_text()[
            -3000:
        ]
    finally:
        subprocess.run(["scontrol", "update", f"NodeName={node}", "State=RESUME"], check=False)
    log = (sweep_dir.parent / "sweeper.log").read_text()
    assert "Sweep done: 24 completed, 0 failed" in log, log[-3000:]
    assert runs(sweep_dir) == Counter(range(24))  # every job ended once
    assert runs(sweep_dir, "start")[3] == 2  # lost with its node, then run again
    assert all(count == 1 for num, count in runs(sweep_dir, "start").items() if num != 3)
    failed = [r["return"] for r in journal(sweep_dir) if r.get("status") == "failed"]
    assert len(failed) == 1 and "NODE_FAIL" in failed[0], failed
