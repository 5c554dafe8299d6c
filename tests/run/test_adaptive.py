"""Adaptive sweeps: entrypoints that see the results as they arrive, and resume exactly."""

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Sequence

import pytest
from conftest import RecordingLauncher, journal_records, resume

from hydra_python_sweeper.errors import SettingError
from hydra_python_sweeper.run.sweeper import PythonSweeperImpl
from hydra_python_sweeper.space.results import Result, Results

EXAMPLE = Path(__file__).resolve().parents[2] / "example"

Make = Callable[..., PythonSweeperImpl]


@pytest.fixture(autouse=True, scope="module")
def _example_on_path() -> Iterator[None]:
    """The example's folder on ``sys.path`` for these tests only (its ``config`` package),
    as for the example's own script; removed afterwards."""
    sys.path.insert(0, str(EXAMPLE))
    yield
    sys.path.remove(str(EXAMPLE))
    for name in list(sys.modules):
        if name == "config" or name.startswith("config."):
            del sys.modules[name]


def validation_loss(*args: Any) -> float:
    # (not from example/objective.py: importing a @hydra.main module sets Hydra's version
    # base for the whole process)
    from config.adaptive import validation_loss as loss

    return loss(*args)  # type: ignore[no-any-return]


def interval_width(losses: Sequence[float]) -> float:
    from config.adaptive import interval_width as width

    return width(losses)  # type: ignore[no-any-return]


DEFAULTS = {"lr": 0.01, "num_layers": 2, "epochs": 9, "seed": 0}


def loss_of(job: Sequence[str]) -> float:
    values: Dict[str, Any] = dict(DEFAULTS)
    for override in job:
        key, value = override.split("=", 1)
        if key in values:
            values[key] = type(DEFAULTS[key])(value)
    return validation_loss(values["lr"], values["num_layers"], values["epochs"], values["seed"])


def objective(tmp_path: Path, *extra: str) -> List[str]:
    """The example's adaptive application, swept into ``tmp_path/sweep``."""
    return [
        sys.executable,
        str(EXAMPLE / "objective.py"),
        "-m",
        f"hydra.sweep.dir={tmp_path}/sweep",
        *extra,
    ]


class ObjectiveLauncher(RecordingLauncher):
    """Runs each job as the example's task would: its return value is its loss. ``fail_at``:
    a job number that fails instead."""

    def __init__(self, fail_at: int = -1) -> None:
        super().__init__(lambda start, batch: fail_at, lambda number, job: loss_of(job))


# --- the view --------------------------------------------------------------------------------


def test_the_view_is_live_and_a_replay_shows_what_each_draw_saw() -> None:
    results = Results()
    assert len(results) == 0 and list(results) == []
    first = Result(0, {"a": 1}, "completed", 0.5)
    results.learn(first)
    assert results[0] == first and results[-1] == first and len(results) == 1
    with pytest.raises(IndexError):
        results[1]
    replayed = Results()
    replayed.replay([first, Result(1, {"a": 2}, "failed", "boom")], schedule=[0, 1])
    assert (replayed.drawing(0), replayed.drawing(1), replayed.drawing(2)) == (0, 1, 2)
    assert replayed.replaying is False and replayed[1].status == "failed"


# --- rules -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings, arguments, message",
    [
        (
            {"entrypoints": ["spaces.seeds", "config.adaptive.seeds_until_narrow"]},
            [],
            "takes results, so it must be the first entrypoint",
        ),
        (
            {"entrypoints": ["config.adaptive.seeds_until_narrow"]},
            ["+x=1,2"],
            "takes results, so the command line cannot sweep",
        ),
        (
            {
                "entrypoints": ["config.adaptive.seeds_until_narrow"],
                "max_batch_size": 1,
                "num_shards": 2,
            },
            [],
            "takes results: an adaptive sweep cannot be sharded",
        ),
    ],
)
def test_what_an_adaptive_entrypoint_cannot_do_is_refused_up_front(
    make_sweeper: Make, settings: Any, arguments: List[str], message: str
) -> None:
    sweeper = make_sweeper(**settings)
    with pytest.raises(SettingError, match=message):
        sweeper.sweep(arguments)
    assert sweeper.launcher.batches == []  # type: ignore[union-attr]


def test_with_batches_of_one_every_result_is_seen_before_the_next_draw(
    make_sweeper: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    seen: List[int] = []
    module = importlib.import_module("config.adaptive")
    monkeypatch.setattr(module, "watcher", lambda results: watch(results, seen), raising=False)
    sweeper = make_sweeper(
        ObjectiveLauncher(), entrypoints=["config.adaptive.watcher"], max_batch_size=1
    )
    sweeper.sweep([])
    assert seen == list(range(6))
    assert [r.number for r in sweeper.results] == list(range(6))  # type: ignore[union-attr]


def watch(results: Sequence[Any], seen: List[int]) -> Iterator[Dict[str, Any]]:
    for seed in range(6):
        seen.append(len(results))
        yield {"seed": seed}


# --- the examples ----------------------------------------------------------------------------


def test_random_search_stops_once_the_target_is_reached(make_sweeper: Make) -> None:
    target = 0.3
    sweeper = make_sweeper(
        ObjectiveLauncher(),
        entrypoints=[{"_target_": "config.adaptive.random_search", "target": target}],
        max_batch_size=1,
    )
    sweeper.sweep([])
    losses = [loss_of(job) for job in sweeper.launcher.jobs]  # type: ignore[union-attr]
    assert losses[-1] <= target and all(loss > target for loss in losses[:-1])


def test_an_adaptive_sweep_without_a_batch_size_learns_from_each_job(
    make_sweeper: Make, caplog: Any
) -> None:
    """``max_batch_size`` unset (null, its default): an adaptive entrypoint still sees each
    result before its next draw, and the search stops at its target, not after all it
    would draw."""
    caplog.set_level(logging.INFO, logger="hydra_python_sweeper")
    target = 0.3
    sweeper = make_sweeper(
        ObjectiveLauncher(),
        entrypoints=[{"_target_": "config.adaptive.random_search", "target": target}],
    )
    sweeper.sweep([])
    losses = [loss_of(job) for job in sweeper.launcher.jobs]  # type: ignore[union-attr]
    assert losses[-1] <= target and all(loss > target for loss in losses[:-1])
    assert "takes results: batches of 1 job" in caplog.text


def test_seeds_until_the_confidence_interval_is_narrow(make_sweeper: Make) -> None:
    sweeper = make_sweeper(
        ObjectiveLauncher(),
        entrypoints=[{"_target_": "config.adaptive.seeds_until_narrow", "width": 0.03}],
        max_batch_size=1,
    )
    sweeper.sweep([])
    losses = [loss_of(job) for job in sweeper.launcher.jobs]  # type: ignore[union-attr]
    assert interval_width(losses) < 0.03 <= interval_width(losses[:-1])


def test_asha_promotes_the_best_third_of_each_rung_as_results_arrive(make_sweeper: Make) -> None:
    sweeper = make_sweeper(
        ObjectiveLauncher(), entrypoints=["config.adaptive.asha"], max_batch_size=1
    )
    sweeper.sweep([])
    jobs = [dict(o.split("=", 1) for o in job) for job in sweeper.launcher.jobs]  # type: ignore[union-attr]
    assert len(jobs) == 60
    epochs = [int(job["epochs"]) for job in jobs]
    assert epochs.count(3) > 0 and epochs.count(9) > 0 and epochs.count(1) > epochs.count(3)
    for index, job in enumerate(jobs):  # a promotion: the trial was in its rung's best third
        if job["epochs"] == "1":
            continue
        below = str(int(job["epochs"]) // 3)
        rung = sorted(
            (loss_of(sweeper.launcher.jobs[i]), other["trial"])  # type: ignore[union-attr]
            for i, other in enumerate(jobs[:index])
            if other["epochs"] == below
        )
        assert job["trial"] in {trial for _, trial in rung[: len(rung) // 3]}


def test_the_example_application_runs_asha_end_to_end(tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            str(EXAMPLE / "objective.py"),
            "-m",
            f"hydra.sweep.dir={tmp_path}",
            "hydra.sweeper.entrypoints=[{_target_: config.adaptive.asha, budget: 12}]",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    records = journal_records(tmp_path / "journal.jsonl")
    assert sum(r.get("status") == "completed" for r in records) == 12
    assert [r["drawn"] for r in records if "drawn" in r] == list(range(13))


# --- resume ----------------------------------------------------------------------------------


@pytest.mark.parametrize("in_flight", [1, 3])
def test_an_adaptive_sweep_stopped_midway_resumes_the_same_jobs_each_once(
    make_sweeper: Make, in_flight: int
) -> None:
    settings = dict(entrypoints=["config.adaptive.asha"], max_batch_size=1, max_in_flight=in_flight)
    whole = make_sweeper(ObjectiveLauncher(), sweep_dir="whole", **settings)
    whole.sweep([])
    expected = dict(whole.launcher.batches)  # type: ignore[union-attr]

    first = make_sweeper(ObjectiveLauncher(fail_at=25), **settings)
    with pytest.raises(RuntimeError, match="job 25 failed"):
        first.sweep([])
    resumed = make_sweeper(ObjectiveLauncher(), resume=True, **settings)
    resumed.sweep([])
    ran_first = dict(first.launcher.batches)  # type: ignore[union-attr]
    ran_after = dict(resumed.launcher.batches)  # type: ignore[union-attr]
    # each job once (25, which failed, again), and the resume regenerated run 1's jobs under
    # their numbers (else it would have stopped: the journal checks each job's digest)
    assert set(ran_first) & set(ran_after) == {25}
    assert sorted({**ran_first, **ran_after}) == list(range(60))
    if in_flight == 1:  # one batch at a time, the results come in one order: the whole run's
        assert {**ran_first, **ran_after} == expected


def test_an_adaptive_sweep_killed_midway_then_resumed_runs_each_job_once(tmp_path: Path) -> None:
    import os
    import signal
    import time

    journal = tmp_path / "sweep" / "journal.jsonl"
    command = objective(
        tmp_path,
        "time_per_epoch=0.05",
        "hydra.sweeper.entrypoints=[{_target_: config.adaptive.asha, budget: 20}]",
    )

    def completed() -> List[Dict[str, Any]]:
        if not journal.exists():
            return []
        lines = journal_records(journal)
        return [line for line in lines if line.get("status") == "completed"]

    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while len(completed()) < 8:
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGTERM)
    process.wait(timeout=60)
    before = {line["job"]: line["overrides"] for line in completed()}
    assert 8 <= len(before) < 20

    resumed = resume(command, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    numbers = [line["job"] for line in completed()]
    assert sorted(numbers) == list(range(20))  # each job completed exactly once
    after = {line["job"]: line["overrides"] for line in completed()}
    assert all(after[n] == overrides for n, overrides in before.items())


@pytest.mark.parametrize("size", [1, 2, 4])
def test_an_adaptive_sweep_killed_three_times_replays_the_same_jobs(
    tmp_path: Path, size: int, cancelled_after: List[Path]
) -> None:
    """Killed (SIGKILL, its batches in flight) three times and resumed each time at once:
    each resume replays what the runs before it saw in the same order, so the generator
    draws the same jobs under the same numbers, and each job completes once."""
    import os
    import signal
    import time

    journal = tmp_path / "sweep" / "journal.jsonl"
    cancelled_after.append(journal.parent)  # the killed runs' pool workers
    command = objective(
        tmp_path,
        "time_per_epoch=0.02",
        f"hydra.sweeper.max_batch_size={size}",
        "hydra.sweeper.max_in_flight=2",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "hydra.sweeper.entrypoints=[{_target_: config.adaptive.asha, budget: 24}]",
    )

    def completed() -> Dict[int, List[str]]:
        records = journal_records(journal) if journal.exists() else []
        ends = [r for r in records if r.get("status") == "completed"]
        assert len({r["job"] for r in ends}) == len(ends), "a job completed twice"
        return {r["job"]: r["overrides"] for r in ends}

    seen: Dict[int, List[str]] = {}
    for kill_at in (5, 10, 15):
        resuming = ["hydra.sweeper.resume=true"] if journal.exists() else []
        log = tmp_path / f"run-{kill_at}.log"  # not a pipe: orphaned workers would hold it
        process = subprocess.Popen(
            [*command, *resuming],
            cwd=tmp_path,
            stdout=open(log, "wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while len(completed()) < kill_at:
            alive = process.poll() is None and time.monotonic() < deadline
            assert alive, (kill_at, process.returncode, log.read_text()[-3000:])
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
        now = completed()
        assert all(now[n] == overrides for n, overrides in seen.items())  # same numbers
        seen = now
    resumed = resume(command, tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    final = completed()
    assert sorted(final) == list(range(24))  # each job completed once
    assert all(final[n] == overrides for n, overrides in seen.items())
