"""A real SLURM cluster (tests/slurm/start-slurm.sh: three nodes, slurmdbd, MaxArraySize=1001)
runs the sweeper's batches as job arrays through hydra-submitit-launcher.

Each job writes its start and its end to a ledger of the test's own (tests/apps/ledger.py),
so that how many times each job ran is counted apart from the sweeper's journal. Skipped,
with the reason, where no cluster runs.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest
from conftest import journal_records

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm")]

APP = Path(__file__).resolve().parents[1] / "apps" / "ledger.py"


def command(sweep_dir: Path, *arguments: str) -> List[str]:
    return [
        *(sys.executable, str(APP), "-m", f"hydra.sweep.dir={sweep_dir}"),
        "hydra.sweeper.poll_interval=1",  # SLURM asked every second, not every ten
        *arguments,
    ]


def sweep(
    sweep_dir: Path, *arguments: str, timeout: int = 300
) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(  # its log: Hydra's on stdout, errors on stderr, as one
        command(sweep_dir, *arguments),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        cwd=sweep_dir.parent,
    )


def start(sweep_dir: Path, *arguments: str) -> "subprocess.Popen[str]":
    log = open(sweep_dir.parent / "sweeper.log", "w")
    return subprocess.Popen(
        command(sweep_dir, *arguments),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=sweep_dir.parent,
        start_new_session=True,  # a signal to it reaches the sweeper alone
        # Ctrl-C reaches it even when the tests run with SIGINT ignored (a shell's background
        # job): Python turns SIGINT into KeyboardInterrupt only if it was not ignored at start
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def ledger(sweep_dir: Path) -> List[Dict[str, Any]]:
    path = sweep_dir / "ledger.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def runs(sweep_dir: Path, event: str = "end") -> Counter:
    """How many times each job number reached ``event`` (``start`` or ``end``)."""
    return Counter(record["num"] for record in ledger(sweep_dir) if record["event"] == event)


def journal(sweep_dir: Path) -> List[Dict[str, Any]]:
    return journal_records(sweep_dir / "journal.jsonl")


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def squeue(*options: str) -> List[str]:
    done = subprocess.run(
        ["squeue", "-h", "-r", *options, "-o", "%i|%T|%k"], capture_output=True, text=True
    )
    return done.stdout.split()


def tasks_of(sweep_dir: Path, states: str = "PENDING,RUNNING") -> List[str]:
    """The sweep's array tasks SLURM has in ``states``: their job ids."""
    from hydra_python_sweeper.cluster.slurm import sweep_id

    mine = sweep_id(sweep_dir)
    lines = squeue("-t", states)
    return [line.split("|")[0] for line in lines if mine in line and ":driver" not in line]


def check_each_job_once(sweep_dir: Path, n: int) -> None:
    """Every job ran to its end exactly once, with exactly its own config."""
    assert runs(sweep_dir) == Counter(range(n))
    for record in ledger(sweep_dir):
        num = record["num"]
        assert record["overrides"][-2:] == [f"+x={num}", f"+name='job {num}'"]
        assert (record["cfg"]["x"], record["cfg"]["name"]) == (num, f"job {num}")


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    return tmp_path / "sweep"


@pytest.fixture(autouse=True)
def _cancel_what_is_left(sweep_dir: Path) -> Any:
    yield
    left = tasks_of(sweep_dir, "all")
    if (sweep_dir / "driver.slurm").exists():  # a detached sweep's driver
        left.append((sweep_dir / "driver.slurm").read_text().strip())
    if left:
        subprocess.run(["scancel", *{task.split("_")[0] for task in left}], check=False)


def numbered(n: int) -> str:
    return f"hydra.sweeper.entrypoints=[{{_target_: launched_spaces.numbered, n: {n}}}]"


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
    # each job's started line says which SLURM array task ran it, and on which node
    assert all(r["slurm"].split("_")[1].isdigit() and r["node"].startswith("node") for r in started)
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
    arguments = [numbered(20), "hydra.sweeper.max_batch_size=10", "sleep=3"]
    detached = sweep(sweep_dir, *arguments, "hydra.sweeper.detach=true", timeout=120)
    assert detached.returncode == 0, detached.stdout[-3000:]
    wait_until(lambda: len(tasks_of(sweep_dir, "RUNNING")) >= 5, 120, "the first array running")
    cancelled = subprocess.run(
        [sys.executable, "-m", "hydra_plugins.hydra_python_sweeper", "cancel", str(sweep_dir)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    driver = (sweep_dir / "driver.slurm").read_text().strip()
    assert f"Cancelled the sweep's driver (SLURM job {driver}, " in cancelled.stdout
    wait_until(lambda: not tasks_of(sweep_dir), 60, "no task of the sweep queued or running")
    wait_until(lambda: not squeue("-j", driver), 60, "the driver gone")
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
        ["sbatch", "--parsable", *options, "--wrap", "sleep 300"],
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
