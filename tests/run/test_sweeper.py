"""The sweeper end to end, launching into a recording launcher."""

import itertools
from pathlib import Path
from typing import Any, Callable, List

import pytest
import spaces
from conftest import RecordingLauncher, journal_records
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser

from hydra_python_sweeper.errors import (
    EntrypointError,
    EntrypointFailed,
    JobError,
    JobsFailed,
    SettingError,
)
from hydra_python_sweeper.run.settle import LaunchFailed
from hydra_python_sweeper.run.summary import SweepSummary
from hydra_python_sweeper.run.sweeper import PythonSweeperImpl

Make = Callable[..., PythonSweeperImpl]

MULTILAYER_JOBS = [
    [f"num_layers={n}", "num_hidden=[" + ", ".join(map(str, h)) + "]"]
    for n in range(1, 4)
    for h in itertools.product((32, 64), repeat=n)
]


@pytest.fixture(autouse=True)
def _reset_counts() -> None:
    spaces.reset()


def run(make: Make, arguments: List[str] = (), **settings: Any) -> RecordingLauncher:  # type: ignore[assignment]
    sweeper = make(**settings)  # (sweep_dir= a dir of its own, for a second sweep)
    sweeper.sweep(list(arguments))
    return sweeper.launcher  # type: ignore[return-value]


@pytest.mark.parametrize("entrypoint", ["spaces.layers", "spaces.layers_list"])
def test_the_multilayer_space_in_order(make_sweeper: Make, entrypoint: str) -> None:
    assert run(make_sweeper, entrypoints=[entrypoint]).jobs == MULTILAYER_JOBS


def test_command_line_is_the_outermost_factor(make_sweeper: Make) -> None:
    jobs = run(make_sweeper, ["+activation=relu,tanh"], entrypoints=["spaces.layers"]).jobs
    assert jobs == [[f"+activation={a}", *job] for a in ("relu", "tanh") for job in MULTILAYER_JOBS]


def test_entrypoints_combine_first_outermost(make_sweeper: Make) -> None:
    jobs = run(make_sweeper, entrypoints=["spaces.seeds", "spaces.layers"]).jobs
    assert jobs == [[f"+seed={s}", *job] for s in range(3) for job in MULTILAYER_JOBS]


def test_the_command_line_wins_on_a_shared_key(make_sweeper: Make) -> None:
    jobs = run(make_sweeper, ["num_layers=7"], entrypoints=["spaces.layers"]).jobs
    assert len(jobs) == 14
    assert all(job[0] == "num_layers=7" and len(job) == 2 for job in jobs)


def test_prefixes_do_not_hide_a_shared_key(make_sweeper: Make) -> None:
    jobs = run(make_sweeper, ["++seed=9"], entrypoints=["spaces.seeds"]).jobs
    assert jobs == [["++seed=9"]] * 3


def test_params_are_swept_and_the_command_line_overrides_them(make_sweeper: Make) -> None:
    settings = dict(entrypoints=["spaces.seeds"], params={"+a": "1,2", "+b": "x,y"})
    jobs = run(make_sweeper, ["+a=5"], **settings).jobs
    assert jobs == [["+a=5", f"+b={b}", f"+seed={s}"] for b in "xy" for s in range(3)]


@pytest.mark.parametrize(
    "params, arguments",
    [
        (None, ["+db.x=1", "db.x=1,2"]),
        (None, ["db=mysql,postgresql", "+db.port=1", "db.port=2"]),
        ({"seed": "1,2"}, ["++seed=7"]),
        ({"+a": "1,2", "+b": "x,y"}, ["+a=5", "a=3,4"]),
        (None, ["x=1", "+x=2,3", "x=4"]),  # a repeated key: its last value, at its first place
    ],
)
def test_the_command_line_reaches_the_job_exactly_as_basic_sweeper_passes_it(
    make_sweeper: Make, params: Any, arguments: List[str]
) -> None:
    given = [f"{k}={v}" for k, v in (params or {}).items()] + arguments
    [basic] = BasicSweeper.split_arguments(OverridesParser.create().parse_overrides(given), None)
    assert run(make_sweeper, arguments, params=params).jobs == basic


def test_first_key_wins_only_between_sources(make_sweeper: Make) -> None:
    # the command line's two overrides of seed both pass; the entrypoint's seed is dropped
    jobs = run(make_sweeper, ["seed=1", "++seed=2"], entrypoints=["spaces.seeds"]).jobs
    assert jobs == [["seed=1", "++seed=2"]] * 3


def test_delete_is_written_as_a_bare_tilde_key_as_is_the_command_line_s(
    make_sweeper: Make,
) -> None:
    # ~key deletes the key whatever its value in every Hydra version; ~key=null means that in
    # Hydra 1.2 and 1.3, but "only if it is null" in Hydra 1.4
    jobs = run(make_sweeper, entrypoints=["spaces.delete_db_port"]).jobs
    assert jobs == [["~db.port"], ["~db.port=3306"], ["~db.port=null"]]
    assert run(make_sweeper, ["~db.port"], sweep_dir="cli").jobs == [["~db.port"]]


def test_remove_duplicates_keeps_first_occurrences(make_sweeper: Make) -> None:
    launcher = run(
        make_sweeper,
        ["+activation=relu,relu"],
        entrypoints=["spaces.layers"],
        remove_duplicates=True,
    )
    assert launcher.jobs == [["+activation=relu", *job] for job in MULTILAYER_JOBS]


def test_duplicates_stay_unless_removed(make_sweeper: Make) -> None:
    assert (
        len(run(make_sweeper, ["+activation=relu,relu"], entrypoints=["spaces.layers"]).jobs) == 28
    )


def test_batches_hold_max_batch_size_jobs_and_number_on(make_sweeper: Make) -> None:
    launcher = run(make_sweeper, entrypoints=["spaces.layers"], max_batch_size=4)
    assert [(start, len(batch)) for start, batch in launcher.batches] == [
        (0, 4),
        (4, 4),
        (8, 4),
        (12, 2),
    ]
    assert launcher.jobs == MULTILAYER_JOBS


@pytest.mark.parametrize("size", [None, -1])
def test_no_batch_size_means_one_batch(make_sweeper: Make, size: Any) -> None:
    launcher = run(make_sweeper, entrypoints=["spaces.layers"], max_batch_size=size)
    assert [(start, len(batch)) for start, batch in launcher.batches] == [(0, 14)]


def test_no_entrypoint_and_no_sweep_is_one_empty_job(make_sweeper: Make) -> None:
    assert run(make_sweeper).jobs == [[]]


def test_an_empty_entrypoint_launches_nothing(make_sweeper: Make) -> None:
    sweeper = make_sweeper(entrypoints=["spaces.empty"])
    assert sweeper.sweep(["+a=1,2"]) == []
    assert sweeper.launcher.batches == []  # type: ignore[union-attr]


def test_returns_are_per_batch_lists_as_basic_sweeper(make_sweeper: Make) -> None:
    sweeper = make_sweeper(entrypoints=["spaces.counter"], max_batch_size=4)
    returns = sweeper.sweep([])
    assert [[r.return_value for r in batch] for batch in returns] == [
        [0, 1, 2, 3],
        [4, 5, 6, 7],
        [8, 9],
    ]


def test_keep_returns_false_returns_a_summary(make_sweeper: Make, tmp_path: Path) -> None:
    sweeper = make_sweeper(entrypoints=["spaces.counter"], max_batch_size=4, keep_returns=False)
    assert sweeper.sweep([]) == SweepSummary(jobs=10, batches=3, sweep_dir=str(tmp_path / "sweep"))


def test_multirun_yaml_is_saved_before_the_first_launch(make_sweeper: Make, tmp_path: Path) -> None:
    saved = []
    launcher = RecordingLauncher(
        lambda *_: saved.append((tmp_path / "sweep" / "multirun.yaml").exists())
    )
    run(make_sweeper, launcher=launcher, entrypoints=["spaces.counter"], max_batch_size=5)
    assert saved == [True, True]


# --- laziness ------------------------------------------------------------------------


def test_an_entrypoint_is_consumed_no_further_than_the_batch_being_launched(
    make_sweeper: Make,
) -> None:
    seen = []
    launcher = RecordingLauncher(
        lambda start, batch: seen.append((start, spaces.consumed["counter"]))
    )
    run(make_sweeper, launcher=launcher, entrypoints=["spaces.counter"], max_batch_size=3)
    assert seen == [(0, 3), (3, 6), (6, 9), (9, 10)]


def test_a_million_job_generator_is_drawn_only_as_far_as_the_first_batch(
    make_sweeper: Make,
) -> None:
    class Stop(Exception):
        pass

    def stop(start: int, batch: Any) -> None:
        raise Stop

    # the launcher's exception is the batch's failure, and fail_fast stops the sweep
    with pytest.raises(LaunchFailed, match="job #0 did not end: Stop"):
        run(
            make_sweeper,
            launcher=RecordingLauncher(stop),
            entrypoints=["spaces.million"],
            max_batch_size=1000,
        )
    assert spaces.consumed["million"] == 1000


def test_an_inner_generator_entrypoint_is_called_again_for_each_outer_job(
    make_sweeper: Make,
) -> None:
    jobs = run(make_sweeper, entrypoints=["spaces.seeds", "spaces.counter"]).jobs
    assert len(jobs) == 30
    assert spaces.calls == {"seeds": 1, "counter": 3}


def test_a_failed_job_stops_the_sweep_after_its_batch(make_sweeper: Make) -> None:
    launcher = RecordingLauncher(lambda start, batch: 4)  # job #4 fails
    with pytest.raises(RuntimeError, match="job 4 failed"):
        run(make_sweeper, launcher=launcher, entrypoints=["spaces.counter"], max_batch_size=3)
    assert [start for start, _ in launcher.batches] == [0, 3]


def test_an_entrypoint_raising_mid_sweep_keeps_the_batches_before(make_sweeper: Make) -> None:
    sweeper = make_sweeper(entrypoints=["spaces.fails_at_5"], max_batch_size=2)
    with pytest.raises(EntrypointFailed) as info:
        sweeper.sweep([])
    assert [start for start, _ in sweeper.launcher.batches] == [0, 2]  # type: ignore[union-attr]
    message = str(info.value)
    assert message.startswith(
        "entrypoint 'spaces.fails_at_5' raised while generating job #5: "
        "ValueError: no job 5 today ("
    )
    assert (
        "(4 jobs completed and 0 failed before this error (the journal's count); their "
        "outputs are in" in message
    )


# --- bad input: one clear error, nothing launched ------------------------------------------


@pytest.mark.parametrize(
    "settings, arguments, error, message",
    [
        (
            {"entrypoints": ["nowhere.at_all"]},
            [],
            EntrypointError,
            "entrypoint 'nowhere.at_all' could not be loaded: no module named 'nowhere' "
            "(the folder of the application's script is on sys.path",
        ),
        (
            {"entrypoints": ["spaces.missing"]},
            [],
            EntrypointError,
            "entrypoint 'spaces.missing' could not be loaded: 'spaces' has no attribute 'missing'",
        ),
        (
            {"entrypoints": ["spaces.layers.nope"]},
            [],
            EntrypointError,
            "entrypoint 'spaces.layers.nope' could not be loaded: 'spaces.layers' has no attribute",
        ),
        (
            {"entrypoints": ["broken_module.f"]},
            [],
            EntrypointError,
            "entrypoint 'broken_module.f' could not be loaded: importing 'broken_module' failed: "
            "ModuleNotFoundError: No module named 'not_installed_anywhere' (",
        ),
        (
            {"entrypoints": ["spaces..layers"]},
            [],
            SettingError,
            "hydra.sweeper.entrypoints: 'spaces..layers' is not a dotted path to a function",
        ),
        (
            {"entrypoints": ["spaces.not_callable"]},
            [],
            EntrypointError,
            "entrypoint 'spaces.not_callable' is a int, not a callable",
        ),
        (
            {"entrypoints": [3]},
            [],
            SettingError,
            "hydra.sweeper.entrypoints: 3 is not a dotted path to a function",
        ),
        (
            {"entrypoints": ["spaces.returns_mapping"]},
            [],
            EntrypointError,
            "entrypoint 'spaces.returns_mapping' returned a mapping; "
            "it must return an iterable of jobs",
        ),
        (
            {"entrypoints": ["spaces.returns_int"]},
            [],
            EntrypointError,
            "entrypoint 'spaces.returns_int' returned int 3, not an iterable of jobs",
        ),
        (
            {"entrypoints": ["spaces.raises_when_called"]},
            [],
            EntrypointFailed,
            "entrypoint 'spaces.raises_when_called' raised when called: KeyError: 'oops' (",
        ),
        (
            {"entrypoints": ["spaces.not_a_job"]},
            [],
            JobError,
            "entrypoint 'spaces.not_a_job', job #1: a job must be a mapping or an iterable of",
        ),
        (
            {"entrypoints": ["spaces.not_a_pair"]},
            [],
            JobError,
            "entrypoint 'spaces.not_a_pair', job #0: ('+b', 2, 3) is not a (key, value) pair",
        ),
        (
            {"entrypoints": ["spaces.empty_key"]},
            [],
            JobError,
            "entrypoint 'spaces.empty_key', job #0: key '' is not a non-empty string",
        ),
        (
            {"entrypoints": ["spaces.bad_key_at_1"]},
            [],
            JobError,
            "entrypoint 'spaces.bad_key_at_1', job #1, key '+b c': key '+b c' is not an "
            "override key in Hydra's grammar (token recognition error at: ' ')",
        ),
        (
            {"entrypoints": ["spaces.bad_value_at_3"]},
            [],
            JobError,
            "entrypoint 'spaces.bad_value_at_3', job #3, key '+tags': "
            "value {'a'} of type set is not",
        ),
        (
            {"max_batch_size": 0},
            [],
            SettingError,
            "hydra.sweeper.max_batch_size=0: expected a positive integer, or null or -1",
        ),
        ({"max_batch_size": -2}, [], SettingError, "hydra.sweeper.max_batch_size=-2"),
        (
            {},
            ["+lr=interval(0,1)"],
            SettingError,
            "PythonSweeper does not support sweep type INTERVAL_SWEEP (in '+lr=interval(0,1)')",
        ),
    ],
)
def test_bad_input_is_one_clear_error_before_any_launch(
    make_sweeper: Make, settings: Any, arguments: List[str], error: type, message: str
) -> None:
    sweeper = make_sweeper(**settings)
    with pytest.raises(error) as info:
        sweeper.sweep(arguments)
    assert str(info.value).startswith(message)
    assert sweeper.launcher.batches == []  # type: ignore[union-attr]


def test_a_bad_job_in_a_generator_fails_when_reached_after_earlier_batches(
    make_sweeper: Make,
) -> None:
    sweeper = make_sweeper(entrypoints=["spaces.bad_value_at_3_lazily"], max_batch_size=2)
    with pytest.raises(JobError, match=r"job #3, key '\+tags'"):
        sweeper.sweep([])
    assert [start for start, _ in sweeper.launcher.batches] == [0]  # type: ignore[union-attr]


# --- retries -----------------------------------------------------------------------------


def test_a_job_lost_to_the_cluster_is_launched_again_under_its_own_number(
    make_sweeper: Make, tmp_path: Path
) -> None:
    launches: List[int] = []

    def lose_the_second_batch_once(start: int, batch: Any) -> None:
        launches.append(start)
        if len(launches) == 2:
            raise RuntimeError("node lost")  # before any job ran: none wrote its end

    launcher = RecordingLauncher(lose_the_second_batch_once)
    sweeper = make_sweeper(
        launcher=launcher, entrypoints=["spaces.counter"], max_batch_size=4, retries=1
    )
    returns = sweeper.sweep([])
    assert launches == [0, 4, 4, 8]  # batch 2 again, before batch 3
    assert [[r.return_value for r in batch] for batch in returns] == [
        [0, 1, 2, 3],
        [4, 5, 6, 7],
        [8, 9],
    ]
    journal = journal_records(tmp_path / "sweep" / "journal.jsonl")
    attempts = [r["status"] for r in journal if r.get("job") == 5]
    assert attempts == ["failed", "completed"]  # each attempt recorded
    assert journal[-1] == {"done": 1, "completed": 10, "failed": 0, "skipped": 0}


def test_without_retries_a_lost_job_is_a_failure_and_a_job_that_raised_is_retried_on_request(
    make_sweeper: Make,
) -> None:
    def lose(start: int, batch: Any) -> None:
        raise RuntimeError("node lost")

    with pytest.raises(JobsFailed, match="2 jobs of 2 failed"):
        make_sweeper(
            launcher=RecordingLauncher(lose),
            entrypoints=[{"_target_": "spaces.counter", "n": 2}],
            fail_fast=False,
        ).sweep([])
    tried = RecordingLauncher(lambda start, batch: 1)  # job 1 raises, every time
    with pytest.raises(JobsFailed, match=r"1 job of 2 failed \(#1\)"):
        make_sweeper(
            launcher=tried,
            entrypoints=[{"_target_": "spaces.counter", "n": 2}],
            fail_fast=False,
            retries=2,
            retry_failed=True,
            sweep_dir="other",
        ).sweep([])
    assert [start for start, _ in tried.batches] == [0, 1, 1]  # job 1 three times in all
