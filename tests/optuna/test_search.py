"""The Optuna search through the sweeper, in this process: trials asked as slots free and
told as jobs end, what the study holds, failures, several objectives, the samplers."""

import logging
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import optuna
import pytest
from conftest import RecordingLauncher
from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn
from hydra.types import HydraContext
from omegaconf import OmegaConf

from hydra_python_sweeper.errors import JobsFailed, PythonSweeperError, SettingError
from hydra_python_sweeper.optuna import search as searching
from hydra_python_sweeper.optuna.study import RESULTS_FILE, STORAGE_FILE
from hydra_python_sweeper.optuna.sweeper import OptunaSweeperImpl

optuna.logging.set_verbosity(optuna.logging.WARNING)

SPACE = {"x": "interval(-5, 5)", "y": "range(-3, 4)", "opt": "choice(adam, sgd)"}


def parse(job: Sequence[str]) -> Dict[str, Any]:
    values: Dict[str, Any] = {}
    for override in job:
        key, value = override.split("=", 1)
        values[key] = value
    return {"x": float(values["x"]), "y": int(values["y"]), "opt": values["opt"]}


def objective(job: Sequence[str]) -> float:
    p = parse(job)
    return float((p["x"] - 2) ** 2 + (p["y"] + 1) ** 2 + (0.0 if p["opt"] == "adam" else 0.5))


def load(sweep_dir: Path, name: str = "app") -> optuna.Study:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(sweep_dir / STORAGE_FILE)))
    return optuna.load_study(study_name=name, storage=storage)


@pytest.fixture
def make(tmp_path: Path) -> Callable[..., OptunaSweeperImpl]:
    """``hydra/sweeper=python_optuna``'s sweeper, as Hydra makes it from its config (the
    conf's defaults, the given settings over them), launching into ``launcher``."""

    def make(launcher: Any, sweep_dir: str = "sweep", **settings: Any) -> OptunaSweeperImpl:
        from hydra_plugins.hydra_python_sweeper.config import PythonOptunaSweeperConf

        given = OmegaConf.to_container(OmegaConf.structured(PythonOptunaSweeperConf))
        assert isinstance(given, dict)
        for key in ("_target_", "defaults", "_recursive_"):
            given.pop(key)
        sampler = settings.pop("sampler", "tpe")
        node = ConfigStore.instance().load(f"hydra/sweeper/sampler/{sampler}.yaml").node
        given["sampler"] = {**OmegaConf.to_container(node), "seed": 7}  # type: ignore[dict-item]
        given.update(params=dict(SPACE), validate=False, n_trials=12, n_jobs=3)
        given.update(settings)
        sweeper = OptunaSweeperImpl(**given)
        sweeper.config = OmegaConf.create(
            {
                "hydra": {
                    "sweep": {"dir": str(tmp_path / sweep_dir)},
                    "job": {"name": "app"},
                    "overrides": {"hydra": []},
                }
            }
        )
        launcher.sweep_dir = tmp_path / sweep_dir
        sweeper.launcher = launcher
        sweeper.hydra_context = HydraContext(config_loader=None, callbacks=launcher.callbacks)  # type: ignore[arg-type]
        searching.SWEEP_CONFIG = sweeper.config
        return sweeper

    return make


def launcher(fail: Sequence[int] = (), value: Optional[Callable[..., Any]] = None) -> Any:
    """Each job returns the objective of its overrides (or ``value(number, job)``); the
    jobs numbered in ``fail`` fail."""
    recording = RecordingLauncher(
        on_launch=lambda start, batch: start if start in fail else None,
        value_of=value or (lambda number, job: objective(job)),
    )
    return recording


class Gated(RecordingLauncher):
    """Each job runs until the test opens its gate; records, at each launch, how many of
    the study's trials were told by then."""

    def __init__(self, study: Callable[[], optuna.Study]) -> None:
        super().__init__(value_of=lambda number, job: objective(job))
        self.gates: Dict[int, threading.Event] = {}
        self.launched: Dict[int, threading.Event] = {}
        self.told_at_launch: Dict[int, int] = {}
        self.study = study
        self.lock = threading.Lock()

    def gate(self, number: int) -> threading.Event:
        with self.lock:
            return self.gates.setdefault(number, threading.Event())

    def was_launched(self, number: int) -> threading.Event:
        with self.lock:
            return self.launched.setdefault(number, threading.Event())

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> List[JobReturn]:
        told = [t for t in self.study().trials if t.state.is_finished()]
        self.told_at_launch[initial_job_idx] = len(told)
        self.was_launched(initial_job_idx).set()
        assert self.gate(initial_job_idx).wait(60)
        return super().launch(job_overrides, initial_job_idx)


def test_a_trial_is_asked_when_a_slot_frees_and_told_when_its_job_ends(
    make: Callable[..., OptunaSweeperImpl], tmp_path: Path
) -> None:
    """Four slots, the jobs held: when one job ends, its trial is told and the next trial
    asked and launched while the three others still run; no slot waits for another."""
    gated = Gated(lambda: load(tmp_path / "sweep"))
    sweeper = make(gated, n_trials=10, n_jobs=4)
    done: List[Any] = []
    thread = threading.Thread(target=lambda: done.append(sweeper.sweep([])))
    thread.start()
    try:
        for number in range(4):
            assert gated.was_launched(number).wait(30)
        assert not gated.was_launched(4).is_set()  # four slots: four jobs
        order = [2, 0, 3, 1, 4, 5, 6, 7, 8, 9]
        for k, number in enumerate(order):
            gated.gate(number).set()
            if k + 4 < 10:
                nxt = k + 4
                assert gated.was_launched(nxt).wait(30), f"job {nxt} after job {number} ended"
                # its trial was asked with every ended job told, the others still running
                assert gated.told_at_launch[nxt] == k + 1
                running = [n for n in range(nxt) if not gated.gate(n).is_set()]
                assert len(running) == 3
    finally:
        for number in range(10):
            gated.gate(number).set()
        thread.join(60)
    assert not thread.is_alive()
    study = load(tmp_path / "sweep")
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 10


def test_the_study_holds_each_trial_with_its_job_and_the_value_it_returned(
    make: Callable[..., OptunaSweeperImpl], tmp_path: Path
) -> None:
    recording = launcher()
    make(recording, n_trials=16).sweep([])
    study = load(tmp_path / "sweep")
    assert len(study.trials) == 16 == len(recording.jobs)
    by_job = {tuple(sorted(job)): objective(job) for job in recording.jobs}
    for trial in study.trials:
        job = tuple(sorted(f"{k}={v}" for k, v in trial.params.items()))
        assert trial.value == by_job[job]
        assert -5 <= trial.params["x"] <= 5 and trial.params["y"] in range(-3, 4)
        assert trial.params["opt"] in ("adam", "sgd")
    best = OmegaConf.load(tmp_path / "sweep" / RESULTS_FILE)
    assert best.best_value == study.best_value == min(by_job.values())
    assert best.best_params == study.best_params


def test_the_command_line_s_sweeps_join_the_space_and_its_values_fix_a_key(
    make: Callable[..., OptunaSweeperImpl], tmp_path: Path
) -> None:
    recording = launcher(value=lambda number, job: float(number))
    sweeper = make(recording, n_trials=6, params={"x": "interval(-5, 5)", "opt": "adam"})
    sweeper.sweep(["y=choice(-1, 1)", "opt=sgd", "+extra=3"])
    for job in recording.jobs:
        assert job[0] == "+extra=3"  # the command line's own override, as given
        values = dict(o.split("=", 1) for o in job)
        assert values["y"] in ("-1", "1") and values["opt"] == "sgd"
    study = load(tmp_path / "sweep")
    assert set(study.trials[0].distributions) == {"x", "y"}
    assert [t.value for t in study.trials] == [float(n) for n in range(6)]


def test_a_failed_trial_is_told_failed_and_fail_fast_stops_the_search(
    make: Callable[..., OptunaSweeperImpl], tmp_path: Path
) -> None:
    recording = launcher(fail=[4])
    with pytest.raises(RuntimeError, match="job 4 failed"):
        make(recording, n_trials=12, n_jobs=1).sweep([])
    study = load(tmp_path / "sweep")
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE"] * 4 + ["FAIL"]


def test_within_max_failure_rate_the_search_goes_on_and_the_sweep_is_done(
    make: Callable[..., OptunaSweeperImpl], tmp_path: Path
) -> None:
    recording = launcher(fail=[2, 7])
    make(recording, n_trials=12, n_jobs=1, max_failure_rate=0.25).sweep([])
    states = [t.state.name for t in load(tmp_path / "sweep").trials]
    assert len(states) == 12 and [i for i, s in enumerate(states) if s == "FAIL"] == [2, 7]


def test_past_max_failure_rate_no_more_trials_are_asked_and_the_sweep_fails(
    make: Callable[..., OptunaSweeperImpl], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recording = launcher(fail=[1, 2, 4, 5])
    with caplog.at_level(logging.ERROR), pytest.raises(JobsFailed, match="4 jobs of 6 failed"):
        make(recording, n_trials=12, n_jobs=1, max_failure_rate=0.25).sweep([])
    assert len(load(tmp_path / "sweep").trials) == 6  # a 4th failure: over 0.25 x 12
    assert "4 trials failed, more than max_failure_rate=0.25 of 12" in caplog.text


def test_a_job_that_returns_no_number_fails_its_trial_with_a_warning(
    make: Callable[..., OptunaSweeperImpl], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recording = launcher(value=lambda number, job: "oops" if number == 1 else objective(job))
    with caplog.at_level(logging.WARNING):
        make(recording, n_trials=3, n_jobs=1).sweep([])
    assert [t.state.name for t in load(tmp_path / "sweep").trials] == [
        "COMPLETE", "FAIL", "COMPLETE"
    ]  # fmt: skip
    assert "Trial 1 (job #1) told as failed: its job returned 'oops', not a number" in caplog.text


def test_several_objectives_take_a_list_and_give_the_pareto_front(
    make: Callable[..., OptunaSweeperImpl], tmp_path: Path
) -> None:
    recording = launcher(value=lambda number, job: [objective(job), abs(parse(job)["x"])])
    make(recording, n_trials=10, direction=["minimize", "minimize"], sampler="nsgaii").sweep([])
    study = load(tmp_path / "sweep")
    assert all(len(t.values) == 2 for t in study.trials)
    front = OmegaConf.load(tmp_path / "sweep" / RESULTS_FILE).solutions
    assert sorted(tuple(s["values"]) for s in front) == sorted(
        tuple(t.values) for t in study.best_trials
    )


def custom_space(config: Any, trial: optuna.Trial) -> None:
    """A conditional space: ``momentum`` only for sgd (hydra-optuna-sweeper's form)."""
    assert config.hydra.job.name == "app"  # the sweep's config
    if trial.params["opt"] == "sgd":
        trial.suggest_float("+momentum", 0.0, 0.99)


def test_a_custom_search_space_suggests_more_parameters_from_the_config_and_trial(
    make: Callable[..., OptunaSweeperImpl], tmp_path: Path
) -> None:
    recording = launcher()
    make(recording, n_trials=12, custom_search_space=f"{__name__}.custom_space").sweep([])
    sgd = [job for job in recording.jobs if "opt=sgd" in job]
    assert sgd and all(any(o.startswith("+momentum=") for o in job) for job in sgd)
    assert not any("+momentum" in o for job in recording.jobs if "opt=adam" in job for o in job)
    study = load(tmp_path / "sweep")
    assert all(t.state.name == "COMPLETE" for t in study.trials)


SAMPLERS = ["tpe", "random", "cmaes", "nsgaii", "nsgaiii", "qmc", "gp", "bruteforce", "motpe"]


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_each_sampler_config_makes_its_sampler_and_searches(
    make: Callable[..., OptunaSweeperImpl],
    tmp_path: Path,
    sampler: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if sampler == "gp":
        pytest.importorskip("torch", reason="Optuna's GPSampler needs torch")
    params = {"x": "interval(-5, 5)", "y": "range(-3, 4)", "opt": "choice(adam, sgd)"}
    if sampler == "bruteforce":
        params["x"] = "range(0, 2)"
    recording = launcher()
    with caplog.at_level(logging.INFO):
        make(recording, n_trials=6, sampler=sampler, params=params).sweep([])
    study = load(tmp_path / "sweep")
    target = ConfigStore.instance().load(f"hydra/sweeper/sampler/{sampler}.yaml").node._target_
    assert f"), {target.rsplit('.', 1)[1]}, minimize, 6 trials" in caplog.text
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 6


def test_the_grid_sampler_runs_each_point_of_the_grid_once(
    make: Callable[..., OptunaSweeperImpl], tmp_path: Path
) -> None:
    recording = launcher()
    params = {"x": "range(0.0, 1.5, 0.5)", "y": "choice(-1, 1)", "opt": "choice(adam, sgd)"}
    make(recording, n_trials=100, sampler="grid", params=params, n_jobs=1).sweep([])
    points = sorted(tuple(sorted(job)) for job in recording.jobs)
    assert len(points) == 12 == len(set(points))  # n_trials: the grid's 3 x 2 x 2 points


@pytest.mark.parametrize("given", ["a URL", "a storage config"])
def test_a_user_storage_keeps_the_study_there(
    make: Callable[..., OptunaSweeperImpl], tmp_path: Path, given: str
) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    storage: Any = (
        url if given == "a URL" else {"_target_": "optuna.storages.RDBStorage", "url": url}
    )
    make(launcher(), n_trials=4, storage=storage, study_name="mine").sweep([])
    study = optuna.load_study(study_name="mine", storage=url)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4
    assert not (tmp_path / "sweep" / STORAGE_FILE).exists()


def test_settings_that_cannot_be_are_refused_with_their_name(
    make: Callable[..., OptunaSweeperImpl], tmp_path: Path
) -> None:
    with pytest.raises(SettingError, match=r"hydra.sweeper.entrypoints: .*python_optuna"):
        make(launcher(), entrypoints=["a.b"])
    with pytest.raises(SettingError, match=r"hydra.sweeper.search_space"):
        make(launcher(), search_space={"x": {"type": "float", "low": 0, "high": 1}})
    refused = {
        "hydra.sweeper.max_failure_rate=2": dict(max_failure_rate=2),
        "hydra.sweeper.direction='down': expected minimize or maximize": dict(direction="down"),
        "hydra.sweeper.params.y: choice [1] is a list": dict(params={"y": "choice([1], [2])"}),
        "hydra.sweeper.sampler: optuna.samplers.TPESampler could not be made": {},
        "custom_search_space 'nowhere.at_all' could not be loaded": dict(
            custom_search_space="nowhere.at_all"
        ),
    }
    for message, settings in refused.items():
        sweeper = make(launcher(), **settings)
        if message.startswith("hydra.sweeper.sampler"):  # an argument TPE does not take
            sweeper.search["sampler"] = {"_target_": "optuna.samplers.TPESampler", "n_ei": 1}
        with pytest.raises(PythonSweeperError) as error:
            sweeper.sweep([])
        assert message in str(error.value)
        assert not (tmp_path / "sweep").exists()  # before the sweep made anything


def test_n_jobs_sets_the_trials_in_flight_unless_max_in_flight_is_given(
    make: Callable[..., OptunaSweeperImpl],
) -> None:
    assert make(launcher(), n_jobs=5).given["max_in_flight"] == 5
    assert make(launcher(), n_jobs=5, max_in_flight=2).given["max_in_flight"] == 2
    assert make(launcher()).given["fail_fast"] is True
    assert make(launcher(), max_failure_rate=0.1).given["fail_fast"] is False


def test_a_failed_trial_run_again_by_a_resume_goes_in_as_a_trial_of_its_own(
    make: Callable[..., OptunaSweeperImpl], tmp_path: Path
) -> None:
    with pytest.raises(RuntimeError, match="job 3 failed"):
        make(launcher(fail=[3]), n_trials=8, n_jobs=1).sweep([])
    again = launcher()
    make(again, n_trials=8, n_jobs=1, resume=True).sweep([])
    assert [start for start, _ in again.batches] == [3, 4, 5, 6, 7]  # 3 again, then the rest
    study = load(tmp_path / "sweep")
    states = [t.state.name for t in study.trials]
    assert states[:4] == ["COMPLETE"] * 3 + ["FAIL"] and states[4:] == ["COMPLETE"] * 5
    (rerun,) = [t for t in study.trials if "again" in t.user_attrs[searching.ATTRIBUTE]]
    assert rerun.params == study.trials[3].params and rerun.value == objective(again.jobs[0])
    assert rerun.user_attrs[searching.ATTRIBUTE]["again"] == 3
    asked = [t for t in study.trials if "index" in t.user_attrs[searching.ATTRIBUTE]]
    assert [t.user_attrs[searching.ATTRIBUTE]["index"] for t in asked] == list(range(8))


@pytest.mark.parametrize("stopped", ["made, not asked", "asked, its job not kept"])
def test_a_run_stopped_between_the_writes_of_a_trial_leaves_no_stray_trial(
    make: Callable[..., OptunaSweeperImpl], tmp_path: Path, stopped: str
) -> None:
    """A trial is made with its place in the sweep in one write, then asked, then given
    its job: a run killed between them leaves a trial the resume takes as its own."""
    with pytest.raises(RuntimeError, match="job 3 failed"):
        make(launcher(fail=[3]), n_trials=6, n_jobs=1).sweep([])
    study = load(tmp_path / "sweep")
    place = {searching.ATTRIBUTE: {"sweep": str(tmp_path / "sweep"), "index": 4}}
    study.add_trial(
        optuna.trial.create_trial(state=optuna.trial.TrialState.WAITING, user_attrs=place)
    )
    if stopped == "asked, its job not kept":
        from hydra_python_sweeper.optuna.space import search_space

        study.ask(search_space(SPACE)[0])
    again = launcher()
    make(again, n_trials=6, n_jobs=1, resume=True).sweep([])
    assert [start for start, _ in again.batches] == [3, 4, 5]
    trials = load(tmp_path / "sweep").trials
    assert {t.state.name for t in trials} == {"COMPLETE", "FAIL"}  # none waiting or running
    places = [t.user_attrs[searching.ATTRIBUTE].get("index") for t in trials]
    assert sorted(p for p in places if p is not None) == list(range(6))
    assert len(trials) == 7  # and the failed trial's job, run again: a trial of its own


def test_a_resumed_seeded_sampler_draws_new_points_the_same_at_each_resume(
    make: Callable[..., OptunaSweeperImpl],
) -> None:
    """Seeded again from its seed and the trials asked before: a restarted random stream
    would draw the first run's points again."""
    resumed = []
    for sweep_dir in ("one", "two"):
        first = launcher(fail=[3])
        with pytest.raises(RuntimeError, match="job 3 failed"):
            make(first, sweep_dir, n_trials=8, n_jobs=1, sampler="random").sweep([])
        again = launcher()
        make(again, sweep_dir, n_trials=8, n_jobs=1, sampler="random", resume=True).sweep([])
        assert not {tuple(job) for job in again.jobs[1:]} & {tuple(j) for j in first.jobs}
        resumed.append(again.jobs)
    assert resumed[0] == resumed[1]


def test_the_settings_interpolations_are_resolved_as_hydra_1_4_passes_them_unresolved(
    make: Callable[..., OptunaSweeperImpl], tmp_path: Path
) -> None:
    """Hydra 1.4 hands the sweeper its settings' nodes unresolved (1.2 and 1.3 resolve them
    first): the search gets their values."""
    config = OmegaConf.create(
        {
            "seed_value": 5,
            "bound": 4,
            "sampler": {"_target_": "optuna.samplers.RandomSampler", "seed": "${seed_value}"},
            "params": {"x": "interval(-${bound}, ${bound})", "y": "range(-3, 4)", "opt": "adam"},
            "direction": ["${first}"],
            "first": "minimize",
        }
    )
    sweeper = make(launcher(), n_trials=3, params=config.params, direction=config.direction)
    sweeper.search["sampler"] = config.sampler  # a node of the config, as Hydra 1.4 gives it
    sweeper.sweep([])
    (entry,) = sweeper.given["entrypoints"]
    assert entry["sampler"]["seed"] == 5 and entry["direction"] == ["minimize"]
    assert entry["params"]["x"] == "interval(-4, 4)"
    study = load(tmp_path / "sweep")
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3
    assert all(-4 <= t.params["x"] <= 4 for t in study.trials)
