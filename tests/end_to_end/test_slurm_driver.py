"""A detached sweep's SLURM driver, on a real SLURM cluster."""

import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

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
