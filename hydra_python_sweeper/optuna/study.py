"""A sweep's Optuna study: where it is kept, its sampler and directions, its best trials.

The study lives where Optuna keeps studies, so that ``optuna-dashboard`` shows it while the
sweep runs and Optuna's API loads it afterwards: the user's ``storage`` (a URL, or a
storage ``_target_`` config), or by default Optuna's journal file in the sweep dir
(:data:`STORAGE_FILE`), which takes no database and holds on a network file system.

    >>> directions("minimize"), directions(["minimize", "maximize"])
    (['minimize'], ['minimize', 'maximize'])
"""

import functools
import hashlib
import logging
import warnings
from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence

import optuna
from omegaconf import OmegaConf
from optuna.distributions import BaseDistribution

from hydra_python_sweeper.errors import SettingError
from hydra_python_sweeper.optuna.space import grid
from hydra_python_sweeper.space.sources import resolve

log = logging.getLogger(__name__)

#: The study's journal in the sweep dir, when no ``storage`` is given.
STORAGE_FILE = "optuna.log"
#: Where the best trials are written at the end, as hydra-optuna-sweeper writes them.
RESULTS_FILE = "optimization_results.yaml"


def directions(direction: Any) -> List[str]:
    """``direction`` (one, or a list for several objectives) as Optuna's names."""
    several = isinstance(direction, Sequence) and not isinstance(direction, str)
    given = list(direction) if several else [direction]
    names = [getattr(d, "name", d) for d in given]
    for name in names:
        if name not in ("minimize", "maximize"):
            raise SettingError(
                f"hydra.sweeper.direction={direction!r}: expected minimize or maximize, "
                "or a list of them (one an objective)"
            )
    return [str(name) for name in names]


def storage(given: Any, sweep_dir: Path) -> Any:
    """The study's storage: ``given`` (a URL or a storage config), or a journal file in
    ``sweep_dir``."""
    if given is None:
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        sweep_dir.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(sweep_dir / STORAGE_FILE)))
    if isinstance(given, Mapping):
        return build(given, "storage")
    return given


def build(config: Any, setting: str) -> Any:
    """A ``_target_`` config made, as Hydra's ``instantiate`` makes it (nested targets too,
    ``_partial_``); ``setting`` names it in errors. Settings of the sweep are the user's own,
    so their targets are called as written.

    >>> build({"_target_": "fractions.Fraction", "numerator": 1, "denominator": 3}, "x")
    Fraction(1, 3)
    """
    if isinstance(config, Mapping) and "_target_" in config:
        function = resolve(config["_target_"], setting)
        kwargs = {k: build(v, setting) for k, v in config.items() if not k.startswith("_")}
        if config.get("_partial_"):
            return functools.partial(function, **kwargs)
        return function(**kwargs)
    if isinstance(config, Mapping):
        return {k: build(v, setting) for k, v in config.items()}
    if isinstance(config, list):
        return [build(v, setting) for v in config]
    return config


def sampler(
    config: Any, space: Mapping[str, BaseDistribution], seed_offset: int = 0
) -> optuna.samplers.BaseSampler:
    """The sampler of ``config`` (a ``_target_`` config, as hydra-optuna-sweeper's; ``None``:
    TPE; an argument set to null is left to the sampler's default). The grid sampler gets
    the grid of ``space``. ``seed_offset``: on a resume, how
    many trials were asked before; a seeded sampler whose draws come from its own random
    stream then starts a stream of its own for them, so that it does not draw the first
    run's points again (Grid and QMC samplers keep their seed: they find their place in the
    study)."""
    given: Dict[str, Any] = {}
    if OmegaConf.is_config(config):
        given = dict(OmegaConf.to_container(config))  # type: ignore[arg-type]
    elif config is not None:
        given = dict(config)
    given.setdefault("_target_", "optuna.samplers.TPESampler")
    target = str(given["_target_"])
    keeps_place = target.endswith(("GridSampler", "QMCSampler"))
    if seed_offset and given.get("seed") is not None and not keeps_place:
        given["seed"] = resumed_seed(int(given["seed"]), seed_offset)
    try:
        with warnings.catch_warnings():  # the user chose it: no "experimental" at each run
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            made = build({k: v for k, v in given.items() if v is not None}, "sampler")
    except Exception as error:
        raise SettingError(f"hydra.sweeper.sampler: {target} could not be made: {error}") from None
    if isinstance(made, functools.partial) and made.func is optuna.samplers.GridSampler:
        made = made(grid(space))
    elif target.endswith("GridSampler") and not isinstance(made, optuna.samplers.GridSampler):
        made = made(grid(space))
    if not isinstance(made, optuna.samplers.BaseSampler):
        raise SettingError(
            f"hydra.sweeper.sampler: {target} made a {type(made).__name__}, not an Optuna sampler"
        )
    return made


def resumed_seed(seed: int, asked: int) -> int:
    """The seed of a resumed sampler: the same for the same seed and trials asked before.

    >>> resumed_seed(0, 12) == resumed_seed(0, 12) != resumed_seed(0, 13)
    True
    """
    digest = hashlib.sha256(f"{seed}/{asked}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def open_study(
    name: str, store: Any, sampler: optuna.samplers.BaseSampler, directions: List[str]
) -> optuna.Study:
    """The study ``name`` in ``store``, made if it is not there (its directions must agree)."""
    study = optuna.create_study(
        study_name=name, storage=store, sampler=sampler, directions=directions,  # type: ignore[arg-type]
        load_if_exists=True,
    )  # fmt: skip
    have = [d.name.lower() for d in study.directions]
    if have != directions:
        raise SettingError(
            f"hydra.sweeper.direction={directions}: study '{name}' in its storage was made "
            f"with {have}"
        )
    return study


def write_best(study: optuna.Study, sweep_dir: Path) -> None:
    """Log the best trial (the Pareto front for several objectives) and write it to
    :data:`RESULTS_FILE`, with hydra-optuna-sweeper's keys."""
    best: Dict[str, Any]
    try:
        if len(study.directions) == 1:
            trial = study.best_trial
            best = {"name": "optuna", "best_params": trial.params, "best_value": trial.value}
            log.info(f"Best parameters: {trial.params}")
            log.info(f"Best value: {trial.value}")
        else:
            front = study.best_trials
            best = {
                "name": "optuna",
                "solutions": [{"params": t.params, "values": t.values} for t in front],
            }
            log.info(f"Number of Pareto solutions: {len(front)}")
            for t in front:
                log.info(f"    Values: {t.values}, Params: {t.params}")
    except ValueError:  # no trial completed
        log.warning("No trial of the study completed: no best trial")
        return
    target = sweep_dir / RESULTS_FILE
    partial = target.with_name(f".{RESULTS_FILE}.tmp")
    OmegaConf.save(OmegaConf.create(best), partial)
    partial.replace(target)
