"""Hundreds of jobs with 8 batches in flight through real launchers (150 through joblib, 120
through submitit's local executor, a process and its controller a job), each job checked to
have composed its own config (in a file of its own: its two runs are the longest of the
suite, and the test command runs the files side by side)."""

import re
from pathlib import Path
from typing import Any, Dict, List

import pytest
from conftest import journal_records
from test_launchers import sweep


def check_many_jobs(run: Dict[str, Any], n: int) -> None:
    """Every job ran once, in its own numbered dir, with exactly its own config."""
    assert sorted(run["jobs"]) == list(range(n))
    for num, record in run["jobs"].items():
        assert record["overrides"] == [f"+x={num}", f"+name='job {num}'", f"+pair=[{num}, {-num}]"]
        assert record["cfg"] == {"x": num, "name": f"job {num}", "pair": [num, -num]}
        assert record["pid"] != run["main"]


def most_in_flight(log: str) -> int:
    """The most batches the log says were in flight when a batch was launched."""
    return max(int(n) for n in re.findall(r"; (\d+) batches in flight\)", log))


@pytest.mark.parametrize(
    "launcher, n",
    [
        (
            ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra.sweeper.max_batch_size=1"],
            200,
        ),
        # One job a batch: eight overlapping job arrays of five would start 40 processes
        # at once on this 2-core machine, where submitit's local executor races itself (its
        # job's controller may open its log before the submitting process, starved of CPU,
        # has made the job's folder), with overlapping launches or without.
        (
            [
                "hydra/launcher=submitit_local",
                "hydra.launcher.timeout_min=5",
                "hydra.sweeper.max_batch_size=1",
            ],
            120,
        ),
    ],
    ids=["joblib", "submitit_local"],
)
def test_hundreds_of_jobs_with_8_batches_in_flight_each_compose_their_own_config(
    tmp_path: Path, launcher: List[str], n: int
) -> None:
    pytest.importorskip(f"hydra_plugins.hydra_{launcher[0].split('=')[1].split('_')[0]}_launcher")
    run = sweep(
        tmp_path,
        *launcher,
        f"hydra.sweeper.entrypoints=[{{_target_: launched_spaces.many, n: {n}}}]",
        "hydra.sweeper.max_in_flight=8",
        "hydra.sweeper.keep_returns=false",
        timeout=900,  # a hang: 120 submitit jobs took past 300 s on 2 cores under 3 loads
    )
    check_many_jobs(run, n)
    assert most_in_flight(run["log"]) == 7  # the 8th batch launched while 7 ran
    journal = journal_records(tmp_path / "journal.jsonl")
    # the run's line, two whole lines from inside each job (its start, its end), the end's
    assert [r.get("status") for r in journal].count("started") == n
    assert sorted(r["job"] for r in journal if r.get("status") == "completed") == list(range(n))
    assert "run" in journal[0] and journal[-1] == {
        "done": 1,
        "completed": n,
        "failed": 0,
        "skipped": 0,
    }
    assert f"Sweep done: {n} completed, 0 failed" in run["log"]
