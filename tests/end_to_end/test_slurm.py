"""SLURM arrays on a real cluster (tests/slurm/start-slurm.sh: three nodes, slurmdbd,
MaxArraySize=1001): batches in flight, the sweeper killed or stopped, then resumed.

Each job writes its start and its end to a ledger of the test's own (tests/apps/ledger.py),
so that how many times each job ran is counted apart from the sweeper's journal."""

import os
import re
import signal
from collections import Counter
from pathlib import Path

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


def test_batches_in_flight_as_arrays_run_each_job_once(sweep_dir: Path) -> None:
    done = sweep(
        sweep_dir,
        numbered(90),
        "hydra.sweeper.max_batch_size=15",
        "hydra.sweeper.max_in_flight=3",
        "hydra.sweeper.keep_returns=false",
    )
    assert done.returncode == 0, done.stdout[-3000:]
    check_each_job_once(sweep_dir, 90)
    lines = journal(sweep_dir)
    started = [r for r in lines if r.get("status") == "started"]
    assert len(started) == 90
    # each job's started line says which SLURM task ran it, and on which node: an array's
    # task, or a job of its own for a job launched again because its first task failed
    # before the job started (submitit's race on a fast cluster: a task that starts before
    # submitit has made its log folder fails at once: seen once)
    again = {
        r["job"] for r in lines
        if r.get("status") == "failed" and "its task failed before the job started" in r["return"]
    }  # fmt: skip
    assert {r["job"] for r in lines if r.get("status") == "failed"} == again
    for r in started:
        array, _, task = r["slurm"].partition("_")
        assert array.isdigit() and r["node"].startswith("node"), r
        assert task.isdigit() or (not task and r["job"] in again), r
    ran_on = {r["job"]: r["slurm"] for r in started}
    assert {r["num"]: r["slurm"] for r in ledger(sweep_dir)} == ran_on
    assert len({r["node"] for r in started}) == 3  # the three nodes took jobs
    assert "Sweep done: 90 completed, 0 failed" in done.stdout
    assert "; 2 batches in flight)" in done.stdout


def test_a_batch_larger_than_max_array_size_is_refused_before_anything_runs(
    sweep_dir: Path,
) -> None:
    done = sweep(sweep_dir, numbered(20), "hydra.sweeper.max_batch_size=1500")
    assert done.returncode == 1
    assert "max_batch_size=1500 jobs, but this SLURM cluster's MaxArraySize is 1001" in done.stdout
    assert "Traceback" not in done.stdout
    assert not sweep_dir.exists() and not tasks_of(sweep_dir, "all")


def test_the_sweeper_killed_while_arrays_run_then_resumed_runs_each_job_once(
    sweep_dir: Path,
) -> None:
    arguments = [
        numbered(60),
        "hydra.sweeper.max_batch_size=20",
        "hydra.sweeper.max_in_flight=2",
        "sleep=3",
    ]
    process = start(sweep_dir, *arguments)
    wait_until(lambda: len(runs(sweep_dir, "start")) >= 5, 120, "jobs to start")
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert tasks_of(sweep_dir)  # its arrays run on without it
    done = sweep(sweep_dir, *arguments, "hydra.sweeper.resume=true")
    assert done.returncode == 0, done.stdout[-3000:]
    assert re.search(r"launched by an earlier run, still run: #\d+ \(SLURM task \d+_\d+\)",
                     done.stdout), done.stdout[-3000:]  # fmt: skip
    check_each_job_once(sweep_dir, 60)
    assert runs(sweep_dir, "start") == Counter(range(60))  # none even started twice


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_a_sweep_stopped_with_arrays_queued_then_resumed_runs_each_job_once(
    sweep_dir: Path, how: str
) -> None:
    arguments = [numbered(20), "hydra.sweeper.max_batch_size=10", "hydra.sweeper.max_in_flight=2"]
    process = start(sweep_dir, *arguments, "+hydra.launcher.additional_parameters={hold: true}")
    wait_until(lambda: len(tasks_of(sweep_dir, "PENDING")) == 20, 60, "both arrays queued")
    os.killpg(process.pid, getattr(signal, how))
    assert process.wait(timeout=60) != 0
    log = (sweep_dir.parent / "sweeper.log").read_text()
    if how != "SIGKILL":  # it says what still waits in the queue, and how to cancel it
        assert "20 SLURM tasks of this sweep are still queued or running" in log, log[-3000:]
        assert "To cancel them: scancel " in log and "Traceback" not in log
    held = {task.split("_")[0] for task in tasks_of(sweep_dir, "PENDING")}
    # the resume cancels the queued tasks (started now, they would stand down) and launches
    # their jobs itself
    resumed = sweep(sweep_dir, *arguments, "hydra.sweeper.resume=true")
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    assert "20 SLURM tasks of this sweep, submitted by an earlier run, were still queued: " \
        "cancelled" in resumed.stdout  # fmt: skip
    left = {task.split("_")[0] for task in tasks_of(sweep_dir)}  # the resume's may be ending
    assert not held & left  # nothing of the earlier arrays left queued
    assert held  # (they were its arrays)
    check_each_job_once(sweep_dir, 20)
