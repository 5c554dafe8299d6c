"""A detached sweep's SLURM driver, and jobs packed into tasks, on a real SLURM cluster."""

import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, List

import pytest
from conftest import journal_records
from slurm_cluster import (  # noqa: F401  (the fixtures)
    _cancel_what_is_left,
    check_each_job_once,
    command,
    journal,
    ledger,
    numbered,
    runs,
    squeue,
    start,
    sweep,
    sweep_dir,
    tasks_of,
    wait_until,
)

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm")]


def test_a_detached_sweep_s_driver_is_a_slurm_job_that_survives_a_requeue(
    sweep_dir: Path,
) -> None:
    arguments = [numbered(20), "hydra.sweeper.max_batch_size=10", "sleep=3"]
    detached = sweep(sweep_dir, *arguments, "hydra.sweeper.detach=true", timeout=120)
    assert detached.returncode == 0, detached.stdout[-3000:]
    found = re.search(r"its driver runs as SLURM job (\d+),", detached.stdout)
    assert found, detached.stdout[-3000:]
    driver = found[1]
    assert (sweep_dir / "driver.slurm").read_text().strip() == driver
    assert (
        '"done": ' not in (sweep_dir / "journal.jsonl").read_text()
        if (sweep_dir / "journal.jsonl").exists()
        else True
    )  # the command returned before the sweep's end
    wait_until(lambda: len(runs(sweep_dir)) >= 10, 120, "the first batch to end")
    status = subprocess.run(
        [sys.executable, "-m", "hydra_plugins.hydra_python_sweeper", "status", str(sweep_dir)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert re.search(rf"^Driver: SLURM job {driver}, RUNNING on node\d", status.stdout, re.M), (
        status.stdout + status.stderr
    )
    subprocess.run(["scontrol", "requeue", driver], check=True)  # as preemption would
    journal = sweep_dir / "journal.jsonl"
    wait_until(lambda: '"done": ' in journal.read_text(), 240, "the requeued driver to end")
    check_each_job_once(sweep_dir, 20)
    records = journal_records(journal)
    assert [r["run"] for r in records if "run" in r and "done" not in r] == [1, 2]
    # the arrays are the sweep's own: the driver's allocation did not leak into them
    tasks = {r["slurm"].split("_")[0] for r in records if r.get("status") == "started"}
    assert driver not in tasks and all("_" in r["slurm"] for r in records if "slurm" in r)
    wait_until(lambda: not squeue("-j", driver), 60, "the driver to end")
    status = subprocess.run(
        [sys.executable, "-m", "hydra_plugins.hydra_python_sweeper", "status", str(sweep_dir)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "Driver: no SLURM job of this sweep's driver is queued or running" in status.stdout


def test_cancel_of_a_detached_sweep_cancels_its_driver_and_arrays(sweep_dir: Path) -> None:
    """The first batch's jobs run long (their first time): ``cancel`` stops them in their
    function, where their own ``KeyboardInterrupt`` handling runs (submitit ignores SIGTERM:
    they would run on until SLURM's SIGKILL, which can cut a job after its function, before
    its end line); the resume runs each job once."""
    arguments = [
        numbered(20), "hydra.sweeper.max_batch_size=10", "sleep=1",
        f"slow_jobs=[{','.join(map(str, range(10)))}]", "slow=300",
    ]  # fmt: skip
    detached = sweep(sweep_dir, *arguments, "hydra.sweeper.detach=true", timeout=120)
    assert detached.returncode == 0, detached.stdout[-3000:]
    wait_until(lambda: len(runs(sweep_dir, "start")) >= 5, 120, "the first jobs running")
    cancelled = subprocess.run(
        [sys.executable, "-m", "hydra_plugins.hydra_python_sweeper", "cancel", str(sweep_dir)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    driver = (sweep_dir / "driver.slurm").read_text().strip()
    assert f"Cancelled the sweep's driver (SLURM job {driver}, " in cancelled.stdout
    wait_until(lambda: not tasks_of(sweep_dir), 60, "no task of the sweep queued or running")
    wait_until(lambda: not squeue("-j", driver), 60, "the driver gone")
    started = runs(sweep_dir, "start")
    assert len(started) >= 5 and not runs(sweep_dir, "end")
    assert runs(sweep_dir, "interrupted") == started  # stopped in their function
    assert '"status": "failed"' not in (sweep_dir / "journal.jsonl").read_text()
    assert sweep(sweep_dir, *arguments, "hydra.sweeper.resume=true").returncode == 0
    check_each_job_once(sweep_dir, 20)


def test_a_detached_sweep_s_driver_killed_is_resumed_adopting_its_running_tasks(
    sweep_dir: Path,
) -> None:
    """The driver (a SLURM job) SIGKILLed while its arrays run; the resume, given from the
    login node, adopts the running tasks and launches the rest beside them: every job
    starts and ends once."""
    arguments = [
        numbered(30), "hydra.sweeper.max_batch_size=10", "hydra.sweeper.max_in_flight=2",
        "sleep=4",
    ]  # fmt: skip
    detached = sweep(sweep_dir, *arguments, "hydra.sweeper.detach=true", timeout=120)
    assert detached.returncode == 0, detached.stdout[-3000:]
    driver = (sweep_dir / "driver.slurm").read_text().strip()
    wait_until(lambda: len(tasks_of(sweep_dir, "RUNNING")) >= 5, 120, "an array running")
    subprocess.run(["scancel", "--signal=KILL", "--full", driver], check=True)
    wait_until(lambda: not squeue("-j", driver), 60, "the driver killed")
    assert tasks_of(sweep_dir, "RUNNING")  # its arrays run on without it
    resumed = sweep(sweep_dir, *arguments, "hydra.sweeper.resume=true")
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    assert re.search(r"still run: #\d+ \(SLURM task \d+_\d+\)", resumed.stdout), resumed.stdout
    check_each_job_once(sweep_dir, 30)
    assert runs(sweep_dir, "start") == Counter(range(30))  # none even started twice


def test_a_detached_sweep_s_driver_checkpointed_before_its_time_limit_carries_on(
    sweep_dir: Path,
) -> None:
    """SLURM's signal before the driver's time limit (USR2, which submitit asks for
    ``signal_delay_s`` before it), sent now by scancel rather than by the clock: the driver
    stops its sweep, is requeued, and the new one carries on, adopting the running tasks
    (both arrays: nothing is left to launch)."""
    arguments = [
        numbered(20), "hydra.sweeper.max_batch_size=10", "hydra.sweeper.max_in_flight=2",
        "sleep=20", "+hydra.sweeper.driver.signal_delay_s=60",
    ]  # fmt: skip
    detached = sweep(sweep_dir, *arguments, "hydra.sweeper.detach=true", timeout=120)
    assert detached.returncode == 0, detached.stdout[-3000:]
    driver = (sweep_dir / "driver.slurm").read_text().strip()
    batch = subprocess.run(["scontrol", "show", "job", driver], capture_output=True, text=True)
    assert "USR2@60" in batch.stdout.replace("=", "").replace("SIGUSR2", "USR2") or (
        "--signal=USR2@60" in (sweep_dir / ".driver").joinpath(f"{driver}_submission.sh")
        .read_text()
    )  # fmt: skip
    wait_until(lambda: len(tasks_of(sweep_dir, "RUNNING")) >= 5, 120, "an array running")
    subprocess.run(["scancel", "--signal=USR2", driver], check=True)
    journal = sweep_dir / "journal.jsonl"
    wait_until(lambda: '"done": ' in journal.read_text(), 240, "the requeued driver to end")
    check_each_job_once(sweep_dir, 20)
    assert runs(sweep_dir, "start") == Counter(range(20))  # none even started twice
    records = journal_records(journal)
    assert [r["run"] for r in records if "run" in r and "done" not in r] == [1, 2]
    log = (sweep_dir / "driver.log").read_text()
    assert "Interrupted: the journal" in log, log[-3000:]  # stopped by the driver, in order
    assert re.search(r"still run: #\d+ \(SLURM task \d+_\d+\)", log), log[-3000:]
    wait_until(lambda: not squeue("-j", driver), 60, "the driver to end")


def sbatch(*options: str) -> str:
    done = subprocess.run(
        ["sbatch", "--parsable", "--output=/dev/null", *options, "--wrap", "sleep 300"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip().split(";")[0]


def test_the_driver_is_known_by_its_tag_never_by_the_file_that_names_it(
    sweep_dir: Path,
) -> None:
    """``driver.slurm`` naming a job that is not the sweep's: status does not take it for the
    driver, cancel leaves it alone. A job carrying the sweep's driver tag: a second detached
    start is refused (non-zero), status shows it, cancel cancels it."""
    from hydra_python_sweeper.cluster.slurm import driver_comment

    sweep_dir.mkdir()
    other = sbatch()
    tagged = sbatch(f"--comment={driver_comment(sweep_dir)}")
    try:
        detached = sweep(sweep_dir, numbered(4), "hydra.sweeper.detach=true", timeout=120)
        assert detached.returncode == 1, detached.stdout[-3000:]
        assert f"already has a driver queued or running: SLURM job {tagged} (" in detached.stdout
        assert not (sweep_dir / "journal.jsonl").exists()

        from hydra_python_sweeper.journal.lines import encode

        run = {"run": 1, "version": "0.6.0", "host": "elsewhere", "at": time.time()}
        (sweep_dir / "journal.jsonl").write_bytes(encode(run))
        (sweep_dir / "driver.slurm").write_text(f"{other}\n")

        def status() -> str:
            return subprocess.run(
                [sys.executable, "-m", "hydra_python_sweeper", "status", str(sweep_dir)],
                capture_output=True, text=True, timeout=60,
            ).stdout  # fmt: skip

        shown = status()
        assert re.search(rf"^Driver: SLURM job {tagged}, (RUNNING on node\d|PENDING)", shown, re.M)
        assert other not in shown
        cancelled = subprocess.run(
            [sys.executable, "-m", "hydra_python_sweeper", "cancel", str(sweep_dir)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert f"Cancelled the sweep's driver (SLURM job {tagged}, " in cancelled.stdout
        assert f"Left alone SLURM job {other}: driver.slurm names it" in cancelled.stdout
        wait_until(lambda: not squeue("-j", tagged), 60, "the tagged driver cancelled")
        assert squeue("-j", other), "a job the sweep cannot prove is its own was cancelled"
        shown = status()
        assert "Driver: no SLURM job of this sweep's driver is queued or running" in shown
        assert "not running (resume it below)" in shown
    finally:
        subprocess.run(["scancel", other, tagged], check=False)


# --- jobs packed into tasks (hydra.sweeper.jobs_per_task) ------------------------------------


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
