"""Authoring big sweeps: dry run, progress, filters, parametrised entrypoints, shards."""

import logging
from pathlib import Path
from typing import Any, Callable, List

import pytest
import spaces
from conftest import sweep_test_app
from hydra.test_utils.test_utils import TSweepRunner

from hydra_python_sweeper.errors import EntrypointError, FilterFailed, SettingError
from hydra_python_sweeper.run.summary import SweepSummary
from hydra_python_sweeper.run.sweeper import PythonSweeperImpl

Make = Callable[..., PythonSweeperImpl]
LOG = "hydra_python_sweeper"


@pytest.fixture(autouse=True)
def _reset_counts() -> None:
    spaces.reset()


def launched(make: Make, arguments: List[str] = (), **settings: Any) -> List[List[str]]:  # type: ignore[assignment]
    sweeper = make(**settings)
    sweeper.sweep(list(arguments))
    return sweeper.launcher.jobs  # type: ignore[union-attr]


# --- dry run ------------------------------------------------------------------------------


def test_dry_run_counts_previews_and_launches_nothing(
    make_sweeper: Make, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOG)
    sweeper = make_sweeper(entrypoints=["spaces.layers"], dry_run=True, preview=3, max_batch_size=4)
    summary = sweeper.sweep(["+activation=relu,tanh"])
    assert summary == SweepSummary(jobs=28, batches=7, sweep_dir=str(tmp_path / "sweep"))
    assert sweeper.launcher.batches == []  # type: ignore[union-attr]
    assert not (tmp_path / "sweep").exists()
    lines = [r.getMessage() for r in caplog.records]
    assert lines[-4:] == [
        "\t#0 : +activation=relu num_layers=1 num_hidden=[32]",
        "\t#1 : +activation=relu num_layers=1 num_hidden=[64]",
        "\t#2 : +activation=relu num_layers=2 num_hidden=[32, 32]",
        "Dry run: 28 jobs in 7 batches",
    ]


def test_dry_run_applies_duplicates_and_filters(make_sweeper: Make) -> None:
    summary = make_sweeper(
        entrypoints=["spaces.layers"],
        dry_run=True,
        remove_duplicates=True,
        filters=["spaces.fewer_than_3_layers"],
    ).sweep(["+activation=relu,relu"])
    assert summary.jobs == 6 and summary.batches == 1


def test_dry_run_of_a_million_jobs_streams(make_sweeper: Make) -> None:
    summary = make_sweeper(entrypoints=["spaces.million"], dry_run=True, max_batch_size=1000).sweep(
        []
    )
    assert (summary.jobs, summary.batches) == (1_000_000, 1000)
    assert spaces.calls == {"million": 1}


# --- progress ------------------------------------------------------------------------------


def batch_lines(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("Batch")]


def test_progress_gives_total_and_percentage_when_every_source_is_sized(
    make_sweeper: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOG)
    make_sweeper(entrypoints=["spaces.layers_list"], max_batch_size=10).sweep(["+a=1,2"])
    assert batch_lines(caplog) == [
        "Batch 1 : jobs #0 to #9 (10 of 28 jobs, 36%)",
        "Batch 2 : jobs #10 to #19 (20 of 28 jobs, 71%)",
        "Batch 3 : jobs #20 to #27 (28 of 28 jobs, 100%)",
    ]


def test_progress_gives_a_running_count_for_a_generator(
    make_sweeper: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOG)
    make_sweeper(entrypoints=["spaces.layers"], max_batch_size=10).sweep([])
    assert batch_lines(caplog) == [
        "Batch 1 : jobs #0 to #9 (10 jobs so far)",
        "Batch 2 : jobs #10 to #13 (14 jobs so far)",
    ]


# --- filters -------------------------------------------------------------------------------


def test_filters_see_keys_as_written_and_python_values(make_sweeper: Make) -> None:
    jobs = launched(
        make_sweeper,
        ["+activation=relu,tanh"],
        entrypoints=["spaces.layers"],
        filters=["spaces.relu_only", "spaces.fewer_than_3_layers", "spaces.not_all_64"],
    )
    assert jobs == [
        ["+activation=relu", "num_layers=1", "num_hidden=[32]"],
        ["+activation=relu", "num_layers=2", "num_hidden=[32, 32]"],
        ["+activation=relu", "num_layers=2", "num_hidden=[32, 64]"],
        ["+activation=relu", "num_layers=2", "num_hidden=[64, 32]"],
    ]


def test_filtered_jobs_are_numbered_without_gaps(make_sweeper: Make) -> None:
    sweeper = make_sweeper(
        entrypoints=["spaces.layers"], filters=["spaces.not_all_64"], max_batch_size=4
    )
    sweeper.sweep([])
    assert [(start, len(b)) for start, b in sweeper.launcher.batches] == [(0, 4), (4, 4), (8, 3)]  # type: ignore[union-attr]


def test_a_filter_that_raises_names_itself_and_the_job(make_sweeper: Make) -> None:
    with pytest.raises(FilterFailed) as info:
        make_sweeper(entrypoints=["spaces.layers"], filters=["spaces.broken_filter"]).sweep([])
    assert str(info.value).startswith(
        "filter 'spaces.broken_filter' raised on the job {'num_layers': 1, 'num_hidden': [32]}: "
        "KeyError: 'missing' ("
    )


def test_a_filter_returning_none_is_an_error_naming_it_and_the_job(make_sweeper: Make) -> None:
    sweeper = make_sweeper(entrypoints=["spaces.layers"], filters=["spaces.forgot_return"])
    with pytest.raises(FilterFailed) as info:
        sweeper.sweep([])
    assert str(info.value) == (
        "filter 'spaces.forgot_return' returned None on the job "
        "{'num_layers': 1, 'num_hidden': [32]}: a filter must return True or False "
        "(a missing `return`?)"
    )
    assert sweeper.launcher.batches == []  # type: ignore[union-attr]


def test_a_filter_may_return_a_numpy_bool(make_sweeper: Make) -> None:
    jobs = launched(make_sweeper, entrypoints=["spaces.layers"], filters=["spaces.numpy_like_bool"])
    assert jobs == [["num_layers=1", "num_hidden=[32]"], ["num_layers=1", "num_hidden=[64]"]]


def test_the_summary_counts_what_filters_and_duplicates_dropped(
    make_sweeper: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOG)
    make_sweeper(
        entrypoints=["spaces.layers"],
        filters=["spaces.not_all_64"],
        remove_duplicates=True,
    ).sweep(["+a=1,1"])
    [done] = [m for m in caplog.messages if m.startswith("Sweep done")]
    assert done.startswith(
        "Sweep done: 11 completed, 0 failed, 0 skipped as already done, "
        "6 dropped by filters, 11 duplicates removed; journal: "
    )


# --- parametrised entrypoints ----------------------------------------------------------------


def test_a_mapping_entrypoint_is_called_with_its_arguments(make_sweeper: Make) -> None:
    jobs = launched(
        make_sweeper,
        entrypoints=[{"_target_": "spaces.layers_up_to", "max_layers": 2, "widths": [8]}],
    )
    assert jobs == [["num_layers=1", "num_hidden=[8]"], ["num_layers=2", "num_hidden=[8, 8]"]]


@pytest.mark.usefixtures("hydra_restore_singletons")
@pytest.mark.parametrize("n", [2, 3])
def test_entrypoint_arguments_interpolate_the_application_config(
    hydra_sweep_runner: TSweepRunner, tmpdir: Path, n: int
) -> None:
    sweep = sweep_test_app(
        hydra_sweep_runner,
        tmpdir,
        [
            "+hydra.sweeper.entrypoints=[{_target_: spaces.counter, n: ${n_jobs}}]",
            f"+n_jobs={n}",  # the application's config, set on the command line
        ],
    )
    with sweep:
        assert sweep.returns is not None
        assert [r.overrides for r in sweep.returns[0]] == [
            [f"+n_jobs={n}", f"+i={i}"] for i in range(n)
        ]
        assert [r.cfg.i for r in sweep.returns[0]] == list(range(n))


@pytest.mark.parametrize(
    "entry, error, message",
    [
        (
            {"max_layers": 2},
            SettingError,
            "hydra.sweeper.entrypoints: {'max_layers': 2} has no _target_",
        ),
        (
            {"_target_": "spaces.layers_up_to", "max_layer": 2},
            EntrypointError,
            "entrypoint 'spaces.layers_up_to' cannot be called with {'max_layer': 2}: ",
        ),
        (
            {"_target_": "spaces.layers_up_to"},
            EntrypointError,
            "entrypoint 'spaces.layers_up_to' cannot be called with {}: "
            "missing a required argument",
        ),
    ],
)
def test_bad_entrypoint_arguments_fail_before_any_launch(
    make_sweeper: Make, entry: Any, error: type, message: str
) -> None:
    sweeper = make_sweeper(entrypoints=[entry])
    with pytest.raises(error) as info:
        sweeper.sweep([])
    assert str(info.value).startswith(message)
    assert sweeper.launcher.batches == []  # type: ignore[union-attr]
    assert spaces.calls == {}


# --- shards ----------------------------------------------------------------------------------


@pytest.mark.parametrize("num_shards", [1, 2, 3, 5])
@pytest.mark.parametrize("size", [1, 3, 4])
def test_the_shards_union_is_exactly_the_whole_sweep(
    make_sweeper: Make, num_shards: int, size: int
) -> None:
    whole = make_sweeper(entrypoints=["spaces.layers"], max_batch_size=size)
    whole.sweep(["+a=1,2"])
    expected = {
        start + i: job for start, batch in whole.launcher.batches for i, job in enumerate(batch)
    }  # type: ignore[union-attr]

    numbered = {}
    for index in range(num_shards):
        shard = make_sweeper(
            sweep_dir="sharded",
            entrypoints=["spaces.layers"],
            max_batch_size=size,
            shard_index=index,
            num_shards=num_shards,
        )
        shard.sweep(["+a=1,2"])
        for start, batch in shard.launcher.batches:  # type: ignore[union-attr]
            assert start // size % num_shards == index  # round-robin
            for i, job in enumerate(batch):
                assert start + i not in numbered  # disjoint
                numbered[start + i] = job
    assert numbered == expected


def test_a_shard_s_dry_run_and_progress_count_its_own_jobs(
    make_sweeper: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOG)
    summary = make_sweeper(
        entrypoints=["spaces.layers_list"],
        max_batch_size=4,
        shard_index=1,
        num_shards=2,
        dry_run=True,
    ).sweep([])
    assert (summary.jobs, summary.batches) == (6, 2)  # batches 2 (#4-#7) and 4 (#12-#13)
    assert "Dry run: 6 jobs in 2 batches (shard index 1 of 2 shards)" in caplog.messages
    make_sweeper(
        entrypoints=["spaces.layers_list"], max_batch_size=4, shard_index=1, num_shards=2
    ).sweep([])
    # one numbering: the shard's line and the batch lines count the sweep's batches from 1
    assert "Shard index 1 of 2 shards: batches 2, 4, 6, ... of the sweep, 4 jobs each" in (
        caplog.messages
    )
    assert batch_lines(caplog) == [
        "Batch 2 : jobs #4 to #7 (4 of 6 jobs, 67%)",
        "Batch 4 : jobs #12 to #13 (6 of 6 jobs, 100%)",
    ]


def test_an_empty_shard_says_so(make_sweeper: Make, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOG)
    sweeper = make_sweeper(
        entrypoints=["spaces.layers_list"], max_batch_size=10, shard_index=2, num_shards=3
    )
    sweeper.sweep([])
    assert sweeper.launcher.batches == []  # type: ignore[union-attr]
    assert (
        "Shard index 2 of 3 shards is empty: the sweep has too few batches to reach it; "
        "nothing was launched" in caplog.messages
    )
    assert "The sweep has no jobs: nothing was launched" not in caplog.messages


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"num_shards": 2}, "hydra.sweeper.num_shards > 1 needs hydra.sweeper.max_batch_size"),
        (
            {"num_shards": 2, "shard_index": 2, "max_batch_size": 5},
            "hydra.sweeper.shard_index=2: expected an integer from 0 to num_shards - 1 = 1",
        ),
        ({"shard_index": -1}, "hydra.sweeper.shard_index=-1: expected an integer from 0"),
        ({"num_shards": 0}, "hydra.sweeper.num_shards=0: expected a positive integer"),
        ({"preview": -1}, "hydra.sweeper.preview=-1: expected an integer >= 0"),
        (
            {"filters": ["spaces.nope"]},
            "filter 'spaces.nope' could not be loaded: 'spaces' has no attribute 'nope'",
        ),
    ],
)
def test_bad_authoring_settings_fail_before_any_launch(
    make_sweeper: Make, settings: Any, message: str
) -> None:
    sweeper = make_sweeper(entrypoints=["spaces.layers"], **settings)
    with pytest.raises((SettingError, EntrypointError)) as info:
        sweeper.sweep([])
    assert str(info.value).startswith(message)
    assert sweeper.launcher.batches == []  # type: ignore[union-attr]


# --- what a user reads ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "n, heading",
    [
        (8, "Dry run: nothing is launched. The first 8 jobs:"),
        (12, "Dry run: nothing is launched. The first 10 jobs:"),
        (0, "Dry run: nothing is launched."),
    ],
)
def test_the_dry_run_announces_as_many_jobs_as_it_shows(
    make_sweeper: Make, caplog: pytest.LogCaptureFixture, n: int, heading: str
) -> None:
    caplog.set_level(logging.INFO, logger=LOG)
    entry = {"_target_": "spaces.counter", "n": n}
    make_sweeper(entrypoints=[entry], dry_run=True, max_batch_size=3).sweep([])
    messages = caplog.messages
    assert heading in messages
    shown = [m for m in messages if m.startswith("\t#")]
    assert len(shown) == min(n, 10)
    assert messages.index(heading) < messages.index(shown[0]) if shown else True
    assert messages[-1] == f"Dry run: {n} job{'s' * (n != 1)} in {-(-n // 3)} batch" + (
        "es" if -(-n // 3) != 1 else ""
    )


def test_an_empty_shard_says_so_first_and_makes_no_sweep_dir(
    make_sweeper: Make, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.INFO, logger=LOG)
    sweeper = make_sweeper(
        entrypoints=["spaces.layers_list"], max_batch_size=10, shard_index=2, num_shards=3
    )
    assert sweeper.sweep([]) == []
    assert not (tmp_path / "sweep").exists()
    assert not any(m.startswith("Sweep done") for m in caplog.messages)
    # with a stream of unknown length, the shard learns it is empty at its end: it says so
    # before its summary
    caplog.clear()
    make_sweeper(
        entrypoints=["spaces.counter"], max_batch_size=10, shard_index=2, num_shards=3
    ).sweep([])
    empty = next(i for i, m in enumerate(caplog.messages) if "is empty" in m)
    done = next(i for i, m in enumerate(caplog.messages) if m.startswith("Sweep done"))
    assert empty < done


def test_the_sweeping_line_names_the_filters(
    make_sweeper: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOG)
    make_sweeper(entrypoints=["spaces.layers"], filters=["spaces.not_all_64"], dry_run=True).sweep(
        []
    )
    assert (
        "PythonSweeper(max_batch_size=None, entrypoints=['spaces.layers'], "
        "filters=['spaces.not_all_64']) sweeping" in caplog.messages
    )


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_key_the_command_line_replaces_is_said_once_and_its_duplicates_counted(
    make_sweeper: Make, caplog: pytest.LogCaptureFixture, dry_run: bool
) -> None:
    caplog.set_level(logging.INFO, logger=LOG)
    sweeper = make_sweeper(entrypoints=["spaces.grid2"], dry_run=dry_run, max_batch_size=2)
    sweeper.sweep(["a=5"])
    said = [m for m in caplog.messages if "also sets" in m]
    assert said == [
        "The command line sets a, which entrypoint 'spaces.grid2' also sets: the value of the "
        "command line is the one every such job gets (the first: a=5 b=1). Jobs made the same "
        "by it are counted in the summary; hydra.sweeper.remove_duplicates=true drops them"
    ]
    summary = caplog.messages[-1]
    assert "2 jobs the same as an earlier one (a replaced key; remove_duplicates drops them)" in (
        summary
    )
    first_batch = next(i for i, m in enumerate(caplog.messages) if m.startswith(("Batch", "\t#")))
    assert caplog.messages.index(said[0]) < first_batch  # said before anything is launched
    if not dry_run:
        assert sweeper.launcher.jobs == [["a=5", "b=1"], ["a=5", "b=2"]] * 2  # type: ignore[union-attr]


def test_with_remove_duplicates_the_replaced_key_s_duplicates_are_dropped(
    make_sweeper: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOG)
    sweeper = make_sweeper(entrypoints=["spaces.grid2"], remove_duplicates=True)
    sweeper.sweep(["a=5"])
    assert sweeper.launcher.jobs == [["a=5", "b=1"], ["a=5", "b=2"]]  # type: ignore[union-attr]
    assert "2 duplicates removed" in caplog.messages[-1]
