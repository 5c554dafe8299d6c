"""``hydra/sweeper=python_optuna`` run for real (tests/apps/optimized.py): through joblib,
submitit's local executor and SLURM, killed with its trials running and resumed.

Each job writes its start and end to the test's own ledger; the study is read back with
Optuna's API from where the sweep keeps it."""

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List

import pytest
from conftest import journal_records

APPS = Path(__file__).resolve().parents[1] / "apps"
APP = APPS / "optimized.py"

optuna = pytest.importorskip("optuna")


#: The app imports the ledger's writer: its folder on the path of the tasks that unpickle it.
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [str(APPS), os.environ.get("PYTHONPATH")])),
}


def command(sweep_dir: Path, *arguments: str) -> List[str]:
    return [sys.executable, str(APP), "-m", f"hydra.sweep.dir={sweep_dir}", *arguments]


def run(sweep_dir: Path, *arguments: str, timeout: int = 300) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(
        command(sweep_dir, *arguments),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        cwd=sweep_dir.parent,
        env=ENV,
    )


def ledger(sweep_dir: Path) -> List[Dict[str, Any]]:
    path = sweep_dir / "ledger.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def study(sweep_dir: Path) -> Any:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(sweep_dir / "optuna.log")))
    return optuna.load_study(study_name="optimized", storage=storage)


def objective(x: float, y: int, opt: str) -> float:
    sys.path.insert(0, str(APPS))
    try:
        from optimized import objective as f
    finally:
        sys.path.remove(str(APPS))
    return f(x, y, opt)  # type: ignore[no-any-return]


def check_each_trial_once(sweep_dir: Path, n_trials: int) -> None:
    """``n_trials`` trials, each complete; each job ran to its end once, with its trial's
    parameters, and its trial holds the value it returned."""
    ended = Counter(record["num"] for record in ledger(sweep_dir) if record["event"] == "end")
    assert ended == Counter(range(n_trials)), ended
    trials = study(sweep_dir).trials
    assert len(trials) == n_trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * n_trials
    cfg = {r["num"]: r["cfg"] for r in ledger(sweep_dir) if r["event"] == "end"}
    by_params = Counter(
        (round(c["x"], 12), c["y"], c["opt"], objective(c["x"], c["y"], c["opt"]))
        for c in cfg.values()
    )
    told = Counter(
        (round(t.params["x"], 12), t.params["y"], t.params["opt"], t.value) for t in trials
    )
    assert told == by_params
    records = journal_records(sweep_dir / "journal.jsonl")
    completed = [r for r in records if r.get("status") == "completed"]
    assert sorted(r["job"] for r in completed) == list(range(n_trials))


def wait_for_ends(sweep_dir: Path, count: int, process: "subprocess.Popen[Any]") -> None:
    import time

    deadline = time.monotonic() + 180
    while sum(r["event"] == "end" for r in ledger(sweep_dir)) < count:
        assert process.poll() is None, (sweep_dir.parent / "sweeper.log").read_text()[-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.05)


def kill_then_resume(sweep_dir: Path, n_trials: int, *arguments: str) -> str:
    """The sweeper SIGKILLed once a few trials ended (others running), then resumed."""
    sweep_dir.mkdir(parents=True)
    log = open(sweep_dir.parent / "sweeper.log", "w")
    process = subprocess.Popen(
        command(sweep_dir, *arguments),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=sweep_dir.parent,
        env=ENV,
        start_new_session=True,
    )
    wait_for_ends(sweep_dir, 4, process)
    os.kill(process.pid, signal.SIGKILL)  # the sweeper alone: its jobs run on
    process.wait(timeout=60)
    trials = study(sweep_dir).trials
    assert any(t.state.name == "RUNNING" for t in trials)  # killed with trials running
    assert len(trials) < n_trials
    done = run(sweep_dir, *arguments, "hydra.sweeper.resume=true")
    assert done.returncode == 0, done.stdout[-3000:]
    check_each_trial_once(sweep_dir, n_trials)
    return done.stdout


def test_a_search_through_joblib_runs_its_trials_and_leaves_the_study_and_best(
    tmp_path: Path,
) -> None:
    sweep_dir = tmp_path / "sweep"
    done = run(sweep_dir, "hydra.sweeper.n_trials=10", "hydra.sweeper.sampler.n_startup_trials=4")
    assert done.returncode == 0, done.stdout[-3000:]
    check_each_trial_once(sweep_dir, 10)
    # the sampler's argument set as with hydra-optuna-sweeper (no "+"), the others unset
    assert "'sampler': {'_target_': 'optuna.samplers.TPESampler', 'seed': 123" in done.stdout
    assert "'n_startup_trials': 4" in done.stdout and "TPESampler, minimize" in done.stdout
    best = (sweep_dir / "optimization_results.yaml").read_text()
    assert f"best_value: {study(sweep_dir).best_value}" in best
    assert "Best value:" in done.stdout


def test_a_search_killed_with_trials_running_and_resumed_runs_each_trial_once(
    tmp_path: Path, cancelled_after: List[Path]
) -> None:
    sweep_dir = tmp_path / "sweep"
    cancelled_after.append(sweep_dir)
    out = kill_then_resume(sweep_dir, 16, "hydra.sweeper.n_trials=16", "sleep=0.5")
    assert "asked by an earlier run" in out


def test_a_search_through_submitit_local_with_several_objectives(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    done = run(
        sweep_dir,
        "hydra/launcher=submitit_local",
        "hydra.sweeper.n_trials=6",
        "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.direction=[minimize,minimize]",
        "hydra/sweeper/sampler=nsgaii",
        "objectives=2",
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "NSGAIISampler, minimize and minimize, 6 trials" in done.stdout
    trials = study(sweep_dir).trials
    assert [len(t.values) for t in trials] == [2] * 6
    for t in trials:
        value = objective(t.params["x"], t.params["y"], t.params["opt"])
        assert t.values == [value, abs(t.params["x"])]
    assert "Number of Pareto solutions" in done.stdout


@pytest.mark.slurm
@pytest.mark.usefixtures("slurm")
def test_a_search_on_slurm_killed_with_trials_running_and_resumed_runs_each_trial_once(
    tmp_path: Path,
) -> None:
    sweep_dir = tmp_path / "sweep"
    try:
        kill_then_resume(
            sweep_dir,
            10,
            "hydra/launcher=submitit_slurm",
            "hydra.launcher.partition=debug",
            "hydra.launcher.timeout_min=10",
            "hydra.sweeper.poll_interval=1",
            "hydra.sweeper.n_trials=10",
            "sleep=2",
        )
    finally:
        from slurm_cluster import tasks_of

        left = tasks_of(sweep_dir, "all")
        if left:
            subprocess.run(["scancel", *{t.split("_")[0] for t in left}], check=False)


ROOT = Path(__file__).resolve().parents[2]


def readme_example() -> str:
    """The README's Optuna example: its config block, which names its file."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Optuna") :]
    block = section[section.index("```yaml\n") + 8 :]
    return block[: block.index("```")]


def test_the_readme_s_example_is_the_example_s_config_and_runs(tmp_path: Path) -> None:
    block = readme_example()
    first, _, body = block.partition("\n")
    assert first == "# example/config/optuna.yaml"
    assert body == (ROOT / "example" / "config" / "optuna.yaml").read_text()
    done = subprocess.run(
        [sys.executable, str(ROOT / "example" / "objective.py"), "--config-name", "optuna",
         "-m", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(tmp_path / "sweep" / "optuna.log")))
    trials = optuna.load_study(study_name="objective", storage=storage).trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 30
    assert (tmp_path / "sweep" / "optimization_results.yaml").exists()


def test_with_a_launcher_that_runs_jobs_here_n_jobs_trials_run_one_after_the_other(
    tmp_path: Path,
) -> None:
    sweep_dir = tmp_path / "sweep"
    done = run(sweep_dir, "hydra/launcher=basic", "hydra.sweeper.n_trials=4")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "n_jobs=3: BasicLauncher runs one job at a time" in done.stdout
    check_each_trial_once(sweep_dir, 4)


def test_optuna_dashboard_shows_the_study_while_the_sweep_runs(tmp_path: Path) -> None:
    import socket
    import time
    import urllib.request

    pytest.importorskip("optuna_dashboard")
    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    process = subprocess.Popen(
        command(sweep_dir, "hydra.sweeper.n_trials=12", "sleep=0.5"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path, env=ENV,
    )  # fmt: skip
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dashboard = None
    try:
        wait_for_ends(sweep_dir, 3, process)
        dashboard = subprocess.Popen(
            [str(Path(sys.executable).parent / "optuna-dashboard"), str(sweep_dir / "optuna.log"),
             "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

        def trials() -> List[Dict[str, Any]]:
            url = f"http://127.0.0.1:{port}/api/studies/0?after=0"
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(url, timeout=5) as answer:
                        return json.loads(answer.read())["trials"]  # type: ignore[no-any-return]
                except OSError:
                    assert time.monotonic() < deadline
                    time.sleep(0.2)

        during = trials()
        assert process.poll() is None  # seen while the sweep runs
        assert 3 <= sum(t["state"] == "Complete" for t in during) < 12
        assert process.wait(timeout=120) == 0
        after = trials()
        assert [t["state"] for t in after] == ["Complete"] * 12
    finally:
        for p in (process, dashboard):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()


def test_the_search_as_an_entrypoint_of_the_python_sweeper_as_the_docs_show_it(
    tmp_path: Path,
) -> None:
    import re

    import yaml

    text = (ROOT / "docs" / "optuna.md").read_text()
    (block,) = [
        b for b in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL) if "search.search" in b
    ]
    sweeper = yaml.safe_load(block)["hydra"]["sweeper"]
    (entry,) = sweeper["entrypoints"]
    entry["n_trials"] = 6

    def grammar(value: Any) -> str:  # a value in Hydra's override grammar
        if isinstance(value, dict):
            return "{" + ", ".join(f"{k}: {grammar(v)}" for k, v in value.items()) + "}"
        return f"'{value}'" if isinstance(value, str) else str(value)

    done = subprocess.run(
        [sys.executable, str(ROOT / "example" / "objective.py"), "-m",
         f"hydra.sweep.dir={tmp_path / 'sweep'}", "hydra/launcher=joblib",
         f"hydra.sweeper.max_batch_size={sweeper['max_batch_size']}",
         f"hydra.sweeper.max_in_flight={sweeper['max_in_flight']}",
         f"hydra.sweeper.entrypoints=[{grammar(entry)}]"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(tmp_path / "sweep" / "optuna.log")))
    study = optuna.load_study(study_name="hydra-python-sweeper", storage=storage)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 6
