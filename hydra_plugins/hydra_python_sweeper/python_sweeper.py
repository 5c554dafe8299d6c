"""Hydra's entry point to the sweeper: wires Hydra to :mod:`hydra_python_sweeper.run.sweeper`.

This module is imported by Hydra's plugin discovery at every application start,
so it imports nothing heavy; the pipeline is imported when a sweep is set up.
"""

from typing import Any, List

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from .config import PythonSweeperConf  # noqa: F401  (registers hydra/sweeper=python...)


class PythonSweeper(Sweeper):
    """Sweeps over the jobs that Python entrypoints return; see the README."""

    def __init__(self, **settings: Any) -> None:
        from hydra_python_sweeper.run.sweeper import PythonSweeperImpl

        self.sweeper = PythonSweeperImpl(**settings)

    def setup(
        self,
        *,
        hydra_context: HydraContext,
        task_function: TaskFunction,
        config: DictConfig,
    ) -> None:
        self.sweeper.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: List[str]) -> Any:
        return self.sweeper.sweep(arguments)


class PythonOptunaSweeper(PythonSweeper):
    """An Optuna search with hydra-optuna-sweeper's settings, asynchronous; see the README."""

    def __init__(self, **settings: Any) -> None:
        from hydra_python_sweeper.optuna.sweeper import OptunaSweeperImpl

        self.sweeper = OptunaSweeperImpl(**settings)
