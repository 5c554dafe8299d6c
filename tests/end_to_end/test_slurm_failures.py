"""The cluster's failures on a real SLURM cluster: tasks cancelled, requeued, lost with a
node, a submission limit; cancel; the SLURM example."""

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

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


def test_cancelled_tasks_are_failures_the_others_go_on_and_a_resume_runs_them(
    sweep_dir: Path,
) -> None:
    arguments = [
        numbered(30),
        "hydra.sweeper.max_batch_size=10",
        "hydra.sweeper.fail_fast=false",
        "sleep=1",
        "slow=30",
        "slow_jobs=[3,4]",
    ]
    process = start(sweep_dir, *arguments)

    def slow_ones() -> Any:
        started = {r["num"]: r["slurm"] for r in ledger(sweep_dir) if r["num"] in (3, 4)}
        return sorted(started.values()) if len(started) == 2 else None

    for task in wait_until(slow_ones, 120, "jobs 3 and 4 to start"):
        subprocess.run(["scancel", task], check=True)
    assert process.wait(timeout=240) == 1
    log = (sweep_dir.parent / "sweeper.log").read_text()
    assert "Traceback" not in log, log[-3000:]
    assert "Sweep done: 28 completed, 2 failed" in log
    assert "2 jobs of 30 failed (#3, #4)" in log
    ends = {r["job"]: r for r in journal(sweep_dir) if r.get("status") in ("completed", "failed")}
    assert {n for n, r in ends.items() if r["status"] == "failed"} == {3, 4}
    assert "CANCELLED" in ends[3]["return"]
    assert runs(sweep_dir) == Counter(n for n in range(30) if n not in (3, 4))
    done = sweep(sweep_dir, *arguments, "hydra.sweeper.resume=true")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "Sweep done: 2 completed, 0 failed, 28 skipped" in done.stdout
    assert runs(sweep_dir) == Counter(range(30))


def test_a_queued_task_cancelled_does_not_hang_the_sweep(sweep_dir: Path) -> None:
    arguments = [numbered(4), "hydra.sweeper.fail_fast=false"]
    process = start(sweep_dir, *arguments, "+hydra.launcher.additional_parameters={hold: true}")
    wait_until(lambda: len(tasks_of(sweep_dir, "PENDING")) == 4, 60, "the array queued")
    pending = sorted(tasks_of(sweep_dir, "PENDING"))
    subprocess.run(["scancel", pending[0]], check=True)
    subprocess.run(["scontrol", "release", pending[0].split("_")[0]], check=True)
    assert process.wait(timeout=120) == 1
    log = (sweep_dir.parent / "sweeper.log").read_text()
    assert "1 job of 4 failed" in log and "Traceback" not in log, log[-3000:]
    assert sum(runs(sweep_dir).values()) == 3


def test_a_requeued_task_ends_once_and_the_journal_records_its_two_starts(
    sweep_dir: Path,
) -> None:
    arguments = [numbered(6), "sleep=1", "slow=15", "slow_jobs=[2]"]
    process = start(sweep_dir, *arguments)
    task = wait_until(
        lambda: next((r["slurm"] for r in ledger(sweep_dir) if r["num"] == 2), None),
        120,
        "job 2 to start",
    )
    subprocess.run(["scontrol", "requeue", task], check=True)
    assert process.wait(timeout=240) == 0, (sweep_dir.parent / "sweeper.log").read_text()[-3000:]
    assert runs(sweep_dir) == Counter(range(6))  # every job ended once
    assert runs(sweep_dir, "start")[2] == 2  # job 2 started twice
    lines = journal(sweep_dir)
    starts = [r for r in lines if r.get("job") == 2 and r["status"] == "started"]
    assert len(starts) == 2 and starts[1].get("restart") == 1
    assert [r["status"] for r in lines if r.get("job") == 2][-1] == "completed"
    assert lines[-1] == {"done": 1, "completed": 6, "failed": 0, "skipped": 0}


def test_a_cancelled_task_is_launched_again_with_retries(sweep_dir: Path) -> None:
    arguments = [numbered(8), "sleep=1", "slow=30", "slow_jobs=[5]", "hydra.sweeper.retries=1"]
    process = start(sweep_dir, *arguments)
    task = wait_until(
        lambda: next((r["slurm"] for r in ledger(sweep_dir) if r["num"] == 5), None),
        120,
        "job 5 to start",
    )
    subprocess.run(["scancel", task], check=True)
    assert process.wait(timeout=240) == 0, (sweep_dir.parent / "sweeper.log").read_text()[-3000:]
    log = (sweep_dir.parent / "sweeper.log").read_text()
    assert "Job #5 lost to the cluster" in log and "attempt 2 of 2" in log
    assert "Sweep done: 8 completed, 0 failed" in log
    assert runs(sweep_dir) == Counter(range(8))
    assert [r["status"] for r in journal(sweep_dir) if r.get("job") == 5] == [
        "started",
        "failed",
        "started",
        "completed",
    ]


@pytest.mark.cluster_wide
def test_a_node_going_down_fails_its_jobs_and_the_sweep_goes_on(sweep_dir: Path) -> None:
    arguments = [
        numbered(12),
        "sleep=15",
        "hydra.sweeper.fail_fast=false",
        "+hydra.launcher.additional_parameters={no-requeue: true}",
    ]
    process = start(sweep_dir, *arguments)
    wait_until(lambda: len(runs(sweep_dir, "start")) == 12, 120, "every job to start")
    on_node2 = sorted(r["num"] for r in ledger(sweep_dir) if r["node"] == "node2")
    assert on_node2
    try:
        subprocess.run(
            ["scontrol", "update", "NodeName=node2", "State=DOWN", "Reason=test"], check=True
        )
        assert process.wait(timeout=240) == 1
    finally:
        subprocess.run(["scontrol", "update", "NodeName=node2", "State=RESUME"], check=False)
    log = (sweep_dir.parent / "sweeper.log").read_text()
    assert "Traceback" not in log, log[-3000:]
    assert f"Sweep done: {12 - len(on_node2)} completed, {len(on_node2)} failed" in log
    ends = {r["job"]: r for r in journal(sweep_dir) if r.get("status") in ("completed", "failed")}
    assert sorted(n for n, r in ends.items() if r["status"] == "failed") == on_node2
    assert all("NODE_FAIL" in ends[n]["return"] for n in on_node2), ends[on_node2[0]]


def test_the_slurm_example_runs_on_the_cluster(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "example" / "train.py"
    done = subprocess.run(
        [
            *(sys.executable, str(example), "--config-name", "slurm", "-m"),
            f"hydra.sweep.dir={tmp_path / 'sweep'}",
            "hydra.launcher.partition=debug",
            "hydra.launcher.cpus_per_task=1",
            "hydra.launcher.mem_gb=null",
            "hydra.sweeper.max_batch_size=5",
            "hydra.sweeper.poll_interval=1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "Sweep done: 14 completed, 0 failed" in done.stdout
    batches = [line for line in done.stdout.splitlines() if re.search(r"\] Batch \d+ : ", line)]
    assert len(batches) == 3 and "Batch 3 : jobs #10 to #13 (14 jobs so far" in batches[-1]


@pytest.mark.cluster_wide
def test_a_submission_refused_for_too_many_queued_jobs_waits_for_room(sweep_dir: Path) -> None:
    """With limits enforced (CI starts the cluster so), a user may queue 12 tasks: arrays of
    10, three in flight, are refused until the sweep's own arrays make room."""
    enforced = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True)
    if "limits" not in enforced.stdout.split("AccountingStorageEnforce")[1].split("\n")[0]:
        pytest.skip("limits not enforced: SLURM_ENFORCE=associations,limits,qos start-slurm.sh")
    subprocess.run(["sacctmgr", "-i", "modify", "user", "root", "set", "MaxSubmitJobs=12"])
    try:
        done = sweep(
            sweep_dir,
            numbered(30),
            "hydra.sweeper.max_batch_size=10",
            "hydra.sweeper.max_in_flight=3",
            "sleep=2",
        )
    finally:
        subprocess.run(["sacctmgr", "-i", "modify", "user", "root", "set", "MaxSubmitJobs=-1"])
    assert done.returncode == 0, done.stdout[-3000:]
    assert "SLURM refused its array (AssocMaxSubmitJobLimit: too many jobs queued)" in done.stdout
    assert "Traceback" not in done.stdout
    check_each_job_once(sweep_dir, 30)


def test_cancel_stops_the_sweeper_and_its_arrays_then_a_resume_carries_on(
    sweep_dir: Path,
) -> None:
    arguments = [
        numbered(30), "hydra.sweeper.max_batch_size=10", "hydra.sweeper.max_in_flight=2", "sleep=2"
    ]  # fmt: skip
    process = start(sweep_dir, *arguments)
    wait_until(lambda: len(tasks_of(sweep_dir, "RUNNING")) >= 4, 120, "tasks running")
    cancelled = subprocess.run(
        [sys.executable, "-m", "hydra_plugins.hydra_python_sweeper", "cancel", str(sweep_dir)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert cancelled.returncode == 0, cancelled.stderr
    assert f"Stopped the sweeper (pid {process.pid}" in cancelled.stdout
    assert re.search(r"Cancelled \d+ SLURM tasks of the sweep: scancel \d+", cancelled.stdout)
    assert process.wait(timeout=60) == 143
    wait_until(lambda: not tasks_of(sweep_dir), 60, "no task of the sweep queued or running")
    status = subprocess.run(
        [sys.executable, "-m", "hydra_plugins.hydra_python_sweeper", "status", str(sweep_dir)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "not running (resume it below)" in status.stdout, status.stdout
    assert sweep(sweep_dir, *arguments, "hydra.sweeper.resume=true").returncode == 0
    check_each_job_once(sweep_dir, 30)


def test_a_task_that_fails_before_its_job_starts_is_launched_again(sweep_dir: Path) -> None:
    """A task that SLURM ran but that failed before its job started (its log folder not
    there yet, hydra#2100; here, the launcher's ``setup`` line failing once, in the first
    task to run it) ran nothing: its job is launched again, apart from ``retries``."""
    marker = sweep_dir.parent / "failed-once"
    setup = f'hydra.launcher.setup=["mkdir {marker} 2>/dev/null && exit 1 || true"]'
    done = sweep(sweep_dir, numbered(6), "hydra.sweeper.max_batch_size=6", setup)
    assert done.returncode == 0, done.stdout[-3000:]
    assert marker.is_dir()  # one task failed so
    found = re.findall(
        r"Job #(\d+) never started \(.*SLURM state FAILED.*\): launched again", done.stdout
    )
    assert len(found) == 1, done.stdout[-3000:]
    check_each_job_once(sweep_dir, 6)
    assert "0 failed" in done.stdout


def test_a_task_that_always_fails_before_its_job_starts_fails_after_three_more_launches(
    sweep_dir: Path,
) -> None:
    done = sweep(sweep_dir, numbered(1), 'hydra.launcher.setup=["exit 1"]')
    assert done.returncode != 0
    assert re.findall(r"Job #0 never started .*: launched again, (\d) of 3", done.stdout) == [
        "1", "2", "3",
    ]  # fmt: skip
    assert "its task failed before the job started" in done.stdout
    assert not runs(sweep_dir, "start")
