"""Real launchers: submitit's local executor and joblib run the sweeper's batches."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest
from conftest import journal_records

APP = Path(__file__).resolve().parents[1] / "apps" / "launched.py"


def run_app(
    sweep_dir: Path, *arguments: str, config: str = "launched", **options: Any
) -> "subprocess.CompletedProcess[str]":
    """The application's multirun into ``sweep_dir`` (its parent the working dir), its
    output captured."""
    return subprocess.run(
        [
            *(sys.executable, str(APP), "--config-name", config, "-m"),
            f"hydra.sweep.dir={sweep_dir}",
            *arguments,
        ],
        capture_output=True,
        text=True,
        cwd=sweep_dir if sweep_dir.exists() else sweep_dir.parent,
        **{"timeout": 300, **options},
    )


def sweep(
    tmp_path: Path, *arguments: str, config: str = "launched", timeout: float = 300
) -> Dict[str, Any]:
    """Run the application (a hang is one past ``timeout`` seconds); its log, main pid and
    each job's record by job number."""
    completed = run_app(tmp_path, *arguments, config=config, timeout=timeout)
    assert completed.returncode == 0, completed.stderr[-3000:]
    records = {}
    for path in tmp_path.glob("*/job.json"):
        record = json.loads(path.read_text())
        assert path.parent.name == str(record["num"])  # each job in its own numbered dir
        records[record["num"]] = record
    log = completed.stdout + completed.stderr
    return {"log": log, "jobs": records, "main": int(re.search(r"main pid (\d+)", log).group(1))}


#: Has the sweeper say when it reads the journal back, which it does only for jobs whose
#: return did not come back marked by the journal's callback (run in the job's process).
READ_BACK = "hydra.verbose=hydra_python_sweeper.journal.watch"


def check_seven_jobs(run: Dict[str, Any]) -> None:
    assert sorted(run["jobs"]) == list(range(7))
    for num, record in run["jobs"].items():
        assert record["overrides"] == [f"+x={num}", f"+name='job {num}'"]
        assert record["cfg"] == {"x": num, "name": f"job {num}"}
        assert record["pid"] != run["main"]  # it really ran in another process


def batch_lines(log: str) -> List[str]:
    return re.findall(r"Batch \d+ : jobs #\d+ to #\d+", log)


BATCHES = ["Batch 1 : jobs #0 to #2", "Batch 2 : jobs #3 to #5", "Batch 3 : jobs #6 to #6"]


@pytest.mark.parametrize(
    "extra",
    [
        [],
        [
            "hydra.sweeper.entrypoints=[launched_spaces.seven_lazily]",
            "hydra.sweeper.keep_returns=false",
        ],
    ],
    ids=["list", "generator-no-returns"],
)
def test_submitit_local_runs_each_batch_as_one_job_array(tmp_path: Path, extra: List[str]) -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    run = sweep(
        tmp_path,
        "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=5",
        "hydra.sweeper.max_batch_size=3",
        READ_BACK,
        *extra,
    )
    check_seven_jobs(run)
    assert batch_lines(run["log"]) == BATCHES
    assert "reading the journal back" not in run["log"]  # the marks came back from the array
    # The launcher submits one job array per launch() call, and says so: one per batch,
    # each holding the jobs of its batch.
    submissions = re.split(r"Submitit 'local' sweep output dir", run["log"])[1:]
    assert [re.findall(r"\t#(\d+) : ", part) for part in submissions] == [
        ["0", "1", "2"],
        ["3", "4", "5"],
        ["6"],
    ]


def test_joblib_runs_jobs_in_worker_processes(tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    run = sweep(
        tmp_path,
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "hydra.sweeper.max_batch_size=3",
        READ_BACK,
    )
    check_seven_jobs(run)
    assert batch_lines(run["log"]) == BATCHES
    assert len({record["pid"] for record in run["jobs"].values()}) >= 2
    assert "reading the journal back" not in run["log"]  # the marks came back from the workers


def test_ray_runs_jobs_in_worker_processes(tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_ray_launcher", reason="pip install -e '.[test,ray]'")
    run = sweep(
        tmp_path,
        "hydra/launcher=ray",
        "+hydra.launcher.ray.init.num_cpus=2",
        "hydra.sweeper.max_batch_size=3",
    )
    check_seven_jobs(run)
    assert batch_lines(run["log"]) == BATCHES
    assert run["log"].count("Ray Launcher is launching") == 3
    journal = journal_records(tmp_path / "journal.jsonl")
    statuses = [r.get("status") for r in journal]  # each job's start and end, from its worker
    assert statuses.count("started") == statuses.count("completed") == 7


@pytest.mark.parametrize("extra", [[], ["hydra.sweeper.entrypoints.0.tokn=${oc.env:SWEEP_SECRET}"]])
def test_a_secret_stays_unresolved_in_the_log_the_errors_and_the_journal(
    tmp_path: Path, extra: List[str]
) -> None:
    """Hydra 1.2 and 1.3 resolve the sweeper's settings when they instantiate it: the
    sweeper reads its entrypoints as the config writes them."""
    secret = {**os.environ, "SWEEP_SECRET": "hunter2"}
    done = run_app(tmp_path, *[f"+{e}" for e in extra], config="secret", env=secret)
    log = done.stdout + done.stderr
    assert "hunter2" not in log
    if extra:  # an argument the entrypoint does not take: the error shows it as written
        assert done.returncode == 1
        assert "cannot be called with {'token': '${oc.env:SWEEP_SECRET}', 'tokn':" in log
        return
    assert done.returncode == 0, log[-3000:]
    assert "'token': '${oc.env:SWEEP_SECRET}'" in log  # the sweeping line
    journal = (tmp_path / "journal.jsonl").read_text()
    assert "${oc.env:SWEEP_SECRET}" in journal and "hunter2" not in journal
    assert sorted(json.loads(p.read_text())["num"] for p in tmp_path.glob("*/job.json")) == [
        0,
        1,
        2,
    ]


@pytest.mark.parametrize("level", ["strict", "full", "true"])
def test_strict_validation_leaves_hydra_interpolations_to_the_job(
    tmp_path: Path, level: str
) -> None:
    """``${hydra:runtime.output_dir}`` exists only in the job: a config the job accepts,
    every validation level accepts; each job resolves it to its own dir."""
    run = sweep(tmp_path, f"hydra.sweeper.validate={level}", config="hydra_paths")
    assert sorted(run["jobs"]) == list(range(7))
    for num, record in run["jobs"].items():
        out_dir = str(tmp_path / str(num))
        assert record["cfg"]["out_dir"] == out_dir
        assert record["cfg"]["ckpt_dir"] == f"{out_dir}/checkpoints"
        assert record["cfg"]["job"] == num


def test_strict_validation_still_finds_a_missing_interpolation(tmp_path: Path) -> None:
    done = run_app(tmp_path, "+broken=${nowhere}", config="hydra_paths")
    assert done.returncode == 1
    assert "job #0 (" in done.stderr and ") cannot be composed: " in done.stderr
    assert "Interpolation key 'nowhere' not found" in done.stderr
    assert not list(tmp_path.glob("*/job.json"))  # found before any job ran


def test_a_fixed_sweep_dir_takes_the_corrected_sweep_after_one_that_could_not_compose(
    tmp_path: Path,
) -> None:
    """A typo in a key fails the first job's validation, before anything is launched: the
    same dir then takes the corrected command line."""
    broken = run_app(tmp_path, "nokey.y=1,2")
    assert broken.returncode == 1 and "cannot be composed" in broken.stderr
    run = sweep(tmp_path, "+y=2")
    assert sorted(run["jobs"]) == list(range(7))
    assert all(record["cfg"]["y"] == 2 for record in run["jobs"].values())
    assert "Sweep done: 7 completed, 0 failed" in run["log"]


def test_without_validation_a_job_that_cannot_be_composed_is_that_job_s_failure(
    tmp_path: Path,
) -> None:
    done = run_app(
        tmp_path,
        "hydra.sweeper.entrypoints=[launched_spaces.one_bad]",
        "hydra.sweeper.validate=false",
        "hydra.sweeper.fail_fast=false",
    )
    log = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in log, log[-3000:]
    assert "Sweep done: 2 completed, 1 failed" in log
    assert "1 job of 3 failed (#1)" in log and "hydra.sweeper.resume=true" in log
    ends = {
        r["job"]: r
        for r in map(json.loads, (tmp_path / "journal.jsonl").read_text().splitlines())
        if r.get("status") in ("completed", "failed")
    }
    assert {n: r["status"] for n, r in ends.items()} == {
        0: "completed",
        1: "failed",
        2: "completed",
    }
    assert "nokey" in ends[1]["return"]
    assert sorted(json.loads(p.read_text())["num"] for p in tmp_path.glob("*/job.json")) == [0, 2]


@pytest.mark.parametrize("level", ["true", "strict", "full"])
def test_the_dry_run_checks_every_new_shape_at_the_sweep_s_validation_level(
    tmp_path: Path, level: str
) -> None:
    """A typo'd key in job #15, past the 10 jobs a dry run shows, is reported by the dry
    run, which launches nothing."""
    done = run_app(
        tmp_path / "sweep",
        "hydra.sweeper.entrypoints=[launched_spaces.late_typo]",
        "hydra.sweeper.dry_run=true",
        f"hydra.sweeper.validate={level}",
    )
    assert done.returncode == 1, done.stdout[-2000:]
    assert (
        "job #15 (nokey.y=15) cannot be composed: its override nokey.y=15 (from entrypoint "
        "'launched_spaces.late_typo')" in done.stderr
        if level != "full"  # Hydra's own composition: the override is in Hydra's message
        else "job #15 (nokey.y=15) cannot be composed: " in done.stderr
    )
    assert "Could not override 'nokey.y'" in done.stderr
    assert not (tmp_path / "sweep").exists()


def test_a_job_that_cannot_compose_is_said_before_its_batch_is_said_launched(
    tmp_path: Path,
) -> None:
    """The typo'd key of job #15, in the second batch of 10: the first batch is launched and
    said so, the second is not said launched, and the message names the key's source."""
    done = run_app(
        tmp_path,
        "hydra.sweeper.entrypoints=[launched_spaces.late_typo]",
        "hydra.sweeper.max_batch_size=10",
        "+z=1",
    )
    assert done.returncode == 1, done.stdout[-2000:]
    assert "Batch 1 : jobs #0 to #9" in done.stdout + done.stderr
    assert "Batch 2 :" not in done.stdout + done.stderr
    assert "its override nokey.y=15 (from entrypoint 'launched_spaces.late_typo')" in done.stderr
    assert "Sweep done" not in done.stdout + done.stderr


def test_ctrl_c_while_the_entrypoint_builds_its_jobs_exits_130_without_a_traceback(
    tmp_path: Path,
) -> None:
    import signal

    process = subprocess.Popen(
        [
            *(sys.executable, str(APP), "-m", f"hydra.sweep.dir={tmp_path / 'sweep'}"),
            "hydra.sweeper.entrypoints=[launched_spaces.slow_list]",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        # Python turns SIGINT into KeyboardInterrupt only if it was not ignored when it started
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stdout is not None
    for line in process.stdout:  # the sweeping line: the entrypoint is being called
        if "sweeping" in line:
            break
    process.send_signal(signal.SIGINT)
    output = process.stdout.read()
    assert process.wait(timeout=60) == 130, output
    assert "Interrupted before any batch was launched." in output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output
