"""``hydra/sweeper=python_optuna``: hydra-optuna-sweeper's settings, run as this sweeper's
Optuna search.

The settings Optuna's sweeper users write (``sampler``, ``direction``, ``storage``,
``study_name``, ``n_trials``, ``n_jobs``, ``max_failure_rate``, ``params``,
``custom_search_space``) become one entrypoint, :func:`.search.search`, run in batches of
one job with ``n_jobs`` of them in flight; every other setting is this sweeper's own. The
command line's sweeps (``'x=interval(0, 1)'``) join the search space, as with Optuna's
sweeper; its other overrides go to every job.

    >>> split(["x=interval(0,1)", "db=mysql", "seed=3"], {"seed": "choice(1, 2)"})
    (['db=mysql'], {'seed': '3', 'x': 'interval(0,1)'})
"""

import logging
from typing import Any, Dict, List, Mapping, Tuple

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from hydra_python_sweeper.errors import SettingError
from hydra_python_sweeper.optuna import search
from hydra_python_sweeper.run.settings import runs_jobs_in_this_process
from hydra_python_sweeper.run.sweeper import PythonSweeperImpl

log = logging.getLogger(__name__)

#: hydra-optuna-sweeper's settings, which the search takes.
SEARCH_KEYS = (
    "sampler", "direction", "storage", "study_name", "n_trials", "max_failure_rate",
    "params", "custom_search_space",
)  # fmt: skip


class OptunaSweeperImpl(PythonSweeperImpl):
    """This sweeper, its jobs the trials of an Optuna search."""

    def __init__(self, **given: Any) -> None:
        self.search = {key: given.pop(key) for key in SEARCH_KEYS if key in given}
        given["max_failure_rate"] = self.search.get("max_failure_rate") or 0.0
        search_space = given.pop("search_space", None)
        if search_space:
            raise SettingError(
                "hydra.sweeper.search_space (hydra-optuna-sweeper's form before Hydra 1.2) is "
                "not read: write the space in hydra.sweeper.params, in Hydra's sweep grammar"
            )
        n_jobs = given.pop("n_jobs", 2)
        #: Whether ``n_jobs`` says how many trials run at once (``max_in_flight`` unset).
        self.n_jobs = n_jobs if given.get("max_in_flight") is None else None
        if self.n_jobs is not None:
            given["max_in_flight"] = n_jobs
        if given.get("max_batch_size") is None:
            given["max_batch_size"] = 1
        if given.get("fail_fast") is None:
            given["fail_fast"] = not self.search.get("max_failure_rate")
        if given.get("entrypoints"):
            raise SettingError(
                "hydra.sweeper.entrypoints: hydra/sweeper=python_optuna runs the Optuna search "
                "as its entrypoint; for entrypoints of your own, use hydra/sweeper=python"
            )
        super().__init__(**given)

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        search.SWEEP_CONFIG = config  # what custom_search_space is called with
        self.given.pop("entrypoints", None)
        if self.n_jobs is not None and self.n_jobs > 1 and runs_jobs_in_this_process(self.launcher):
            self.given["max_in_flight"] = 1
            log.info(
                f"n_jobs={self.n_jobs}: {type(self.launcher).__name__} runs one job at a time, "
                "in this process: the trials run one after the other (hydra/launcher=joblib, "
                "or submitit, runs n_jobs at once)"
            )

    def sweep(self, arguments: List[str]) -> Any:
        assert self.config is not None
        # the settings as plain values, their interpolations resolved (Hydra 1.2 and 1.3
        # resolve them when they make the sweeper, 1.4 passes the nodes as they are)
        given: Dict[str, Any] = {
            key: OmegaConf.to_container(value, resolve=True)
            if OmegaConf.is_config(value)
            else value
            for key, value in self.search.items()
        }
        rest, space = split(arguments, given.get("params") or {})
        entry: Dict[str, Any] = {
            "_target_": "hydra_python_sweeper.optuna.search.search",
            **given,
            "params": space,
            "sweep_dir": str(self.config.hydra.sweep.dir),
        }
        if entry.get("study_name") is None:
            entry["study_name"] = str(self.config.hydra.job.name)
        self.given["entrypoints"] = [entry]
        return super().sweep(rest)


def split(arguments: List[str], params: Mapping[str, Any]) -> Tuple[List[str], Dict[str, str]]:
    """The command line's ``arguments`` that stay the command line's, and the search's
    params: ``params``, then the command line's sweeps, and its values for a key of
    ``params`` (which then is fixed: the command line wins)."""
    space = {str(key): str(value) for key, value in params.items()}
    parser = OverridesParser.create()
    rest = []
    for argument in arguments:
        (override,) = parser.parse_overrides([argument])
        key = override.get_key_element()
        if override.is_sweep_override() or key in space:
            space[key] = argument.split("=", 1)[1]
        else:
            rest.append(argument)
    return rest, space
