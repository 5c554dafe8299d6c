"""Hydra's own plugin test suites, run with this sweeper, as Hydra's plugins run them."""

from pathlib import Path

from conftest import sweep_test_app
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.test_utils.launcher_common_tests import (
    BatchedSweeperTestSuite,
    IntegrationTestSuite,
    LauncherTestSuite,
)
from hydra.test_utils.test_utils import TSweepRunner
from pytest import mark, raises

from hydra_plugins.hydra_python_sweeper.python_sweeper import PythonSweeper
from hydra_python_sweeper.errors import JobError


def test_discovery() -> None:
    """The sweeper is found by Hydra's plugin discovery."""
    assert PythonSweeper.__name__ in [x.__name__ for x in Plugins.instance().discover(Sweeper)]


@mark.parametrize("launcher_name, overrides", [("basic", ["hydra/sweeper=python"])])
class TestPythonSweeper(LauncherTestSuite): ...


@mark.parametrize(
    "launcher_name, overrides",
    [("basic", ["hydra/sweeper=python", "hydra.sweeper.max_batch_size=2"])],
)
class TestPythonSweeperWithBatching(BatchedSweeperTestSuite): ...


@mark.parametrize(
    "task_launcher_cfg, extra_flags",
    [
        (
            {},
            [
                "-m",
                "hydra/sweeper=python",
                "hydra/launcher=basic",
                "hydra/hydra_logging=disabled",
                "hydra/job_logging=disabled",
            ],
        )
    ],
)
class TestPythonSweeperIntegration(IntegrationTestSuite): ...


@mark.usefixtures("hydra_restore_singletons")
def test_entrypoint_jobs_reach_the_job_configs(
    hydra_sweep_runner: TSweepRunner, tmpdir: Path
) -> None:
    sweep = sweep_test_app(
        hydra_sweep_runner,
        tmpdir,
        [
            "hydra.sweeper.entrypoints=[spaces.layers]",
            "hydra.sweeper.max_batch_size=5",
            "+num_layers=0",  # the command line wins, so every job has 0 layers...
            "+num_hidden=[]",
            "bar=1,2",  # ...and runs twice
        ],
    )
    with sweep:
        assert sweep.returns is not None
        assert [len(batch) for batch in sweep.returns] == [5, 5, 5, 5, 5, 3]
        flat = [r for batch in sweep.returns for r in batch]
        assert [r.cfg.bar for r in flat] == [1] * 14 + [2] * 14
        assert all(r.cfg.num_layers == 0 and r.cfg.num_hidden == [] for r in flat)
        assert sorted(r.hydra_cfg.hydra.job.num for r in flat) == list(range(28))


@mark.usefixtures("hydra_restore_singletons")
def test_a_job_that_cannot_compose_fails_before_its_batch_is_launched(
    hydra_sweep_runner: TSweepRunner, tmpdir: Path
) -> None:
    sweep = sweep_test_app(
        hydra_sweep_runner,
        tmpdir,
        [
            "hydra.sweeper.entrypoints=[spaces.cannot_compose]",
            "hydra.sweeper.max_batch_size=2",
        ],
    )
    with raises(JobError) as info:
        with sweep:
            pass
    message = str(info.value)
    assert message.startswith(
        "job #2 (nope=1) cannot be composed: its override nope=1 (from entrypoint "
        "'spaces.cannot_compose'): Could not override 'nope'."
    )
    assert "(2 jobs completed and 0 failed before this error" in message
    assert (Path(tmpdir) / "1").is_dir() and not (Path(tmpdir) / "2").exists()
