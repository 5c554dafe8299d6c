"""The sweeper's settings (``hydra.sweeper.*``), registered as ``hydra/sweeper=python``."""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class PythonSweeperConf:
    _target_: str = "hydra_plugins.hydra_python_sweeper.python_sweeper.PythonSweeper"
    #: Entrypoints given as ``{_target_: ..., arg: ...}`` are called by the sweeper,
    #: not instantiated by Hydra when it builds the sweeper.
    _recursive_: bool = False
    #: Jobs per ``launcher.launch()`` call; ``null`` or ``-1``: all jobs in one batch.
    max_batch_size: Optional[int] = None
    #: Dotted paths of functions that return the jobs, or ``{_target_: path, **kwargs}``.
    entrypoints: List[Any] = field(default_factory=list)
    #: Drop a job whose overrides, sorted, equal an earlier job's.
    remove_duplicates: bool = False
    #: Sweep overrides declared in the config, as BasicSweeper's ``params``.
    params: Optional[Dict[str, str]] = None
    #: Check each job's config just before its batch is launched: ``true`` (by shape),
    #: ``strict`` (also interpolations and ``???``), ``full`` (Hydra's composition), ``false``.
    validate: Any = True
    #: Return every ``JobReturn`` (as BasicSweeper), or only a summary.
    keep_returns: bool = True
    #: Dotted paths of predicates ``f(overrides: dict) -> bool``: keep a job when all say so.
    filters: List[str] = field(default_factory=list)
    #: Count and preview the jobs; launch nothing.
    dry_run: bool = False
    #: How many jobs a dry run shows.
    preview: int = 10
    #: This process launches the batches ``k`` with ``k % num_shards == shard_index``.
    shard_index: int = 0
    num_shards: int = 1
    #: Run again the sweep in ``hydra.sweep.dir``: skip the jobs its journal marks completed.
    #: ``force``: also run again the jobs it says started and have not ended.
    resume: Any = False
    #: ``true``: a failed job stops the sweep after its batch (Hydra's behaviour);
    #: ``false``: every batch runs, and the sweep fails at the end if any job failed.
    fail_fast: bool = True
    #: How many ``launcher.launch()`` calls run at once, each on a thread of its own: when
    #: one returns, the next batch is launched. 1: one batch at a time (Hydra's way).
    max_in_flight: int = 1
    #: Seconds between two looks at the cluster (one ``squeue`` call) while a SLURM batch
    #: runs, or while a resume waits for an earlier run's tasks.
    poll_interval: float = 10.0
    #: How many times a job lost to the cluster (cancelled, its node failed, preempted and
    #: not requeued, timed out: it wrote no end) is launched again, in a later batch.
    retries: int = 0
    #: Also launch again, as many times, a job that raised an error.
    retry_failed: bool = False
    #: Check the sweep here, then run it in a driver of its own that needs no terminal
    #: (a background process in its own session, its output in ``<sweep dir>/driver.log``).
    detach: bool = False
    #: With hydra-submitit-launcher (``submitit_slurm``, ``submitit_local``): each task of a
    #: batch's array runs up to this many of its jobs, one after the other, taking the next
    #: job of the batch as it frees up. 1: one task a job (the launcher's own way).
    jobs_per_task: int = 1
    #: A detached sweep's driver as a SLURM job (with a SLURM launcher): ``partition`` (the
    #: launcher's by default), ``timeout_min``, ``mem_gb``, ``cpus_per_task``,
    #: ``signal_delay_s`` (its checkpoint, before the time limit), ``additional_parameters``.
    driver: Dict[str, Any] = field(default_factory=dict)


@dataclass
class PythonOptunaSweeperConf(PythonSweeperConf):
    """``hydra/sweeper=python_optuna``: hydra-optuna-sweeper's settings, the same names and
    meaning, searched with no batch barrier (see ``hydra_python_sweeper.optuna``)."""

    _target_: str = "hydra_plugins.hydra_python_sweeper.python_sweeper.PythonOptunaSweeper"
    defaults: List[Any] = field(default_factory=lambda: [{"sampler": "tpe"}])
    #: An Optuna sampler as a ``_target_`` config (``hydra/sweeper/sampler=tpe``, ``random``,
    #: ``cmaes``, ``nsgaii``, ``nsgaiii``, ``grid``, ``qmc``, ``gp``...).
    sampler: Any = MISSING
    #: ``minimize`` or ``maximize``, or a list of them: one an objective the job returns.
    direction: Any = "minimize"
    #: An Optuna storage URL or ``_target_`` config; ``null``: a journal file in the sweep dir.
    storage: Any = None
    #: ``null``: the application's name (``hydra.job.name``).
    study_name: Optional[str] = None
    n_trials: int = 20
    #: Trials running at once (``max_in_flight``, unless that is set).
    n_jobs: int = 2
    #: The fraction of trials that may fail: past it, no more trials are asked, and the
    #: sweep fails at its end. 0.0: the first failure stops the sweep (``fail_fast``).
    max_failure_rate: float = 0.0
    #: The search space, ``key: expression`` in Hydra's sweep grammar.
    params: Optional[Dict[str, Any]] = None
    #: hydra-optuna-sweeper's form before Hydra 1.2: refused with a pointer to ``params``.
    search_space: Optional[Dict[str, Any]] = None
    #: The dotted path of ``f(config, trial)``, which suggests more parameters.
    custom_search_space: Optional[str] = None
    max_in_flight: Optional[int] = None  # type: ignore[assignment]
    fail_fast: Optional[bool] = None  # type: ignore[assignment]


# Optuna's samplers as hydra/sweeper/sampler=<name>: each argument hydra-optuna-sweeper's
# configs declared (and a few of current Optuna's), so that the command line sets it without
# a "+"; one left null is not passed (Optuna's default).


@dataclass
class SamplerConf:
    _target_: str = MISSING
    seed: Optional[int] = None


@dataclass
class TPESamplerConf(SamplerConf):
    _target_: str = "optuna.samplers.TPESampler"
    consider_prior: Any = None
    prior_weight: Any = None
    consider_magic_clip: Any = None
    consider_endpoints: Any = None
    n_startup_trials: Any = None
    n_ei_candidates: Any = None
    multivariate: Any = None
    group: Any = None
    constant_liar: Any = None
    warn_independent_sampling: Any = None


@dataclass
class RandomSamplerConf(SamplerConf):
    _target_: str = "optuna.samplers.RandomSampler"


@dataclass
class CmaEsSamplerConf(SamplerConf):
    _target_: str = "optuna.samplers.CmaEsSampler"
    x0: Any = None
    sigma0: Any = None
    n_startup_trials: Any = None
    independent_sampler: Any = None
    warn_independent_sampling: Any = None
    consider_pruned_trials: Any = None
    restart_strategy: Any = None
    popsize: Any = None
    inc_popsize: Any = None
    use_separable_cma: Any = None
    with_margin: Any = None
    lr_adapt: Any = None
    source_trials: Any = None


@dataclass
class NSGAIISamplerConf(SamplerConf):
    _target_: str = "optuna.samplers.NSGAIISampler"
    population_size: Any = None
    mutation_prob: Any = None
    crossover_prob: Any = None
    swapping_prob: Any = None
    constraints_func: Any = None


@dataclass
class NSGAIIISamplerConf(NSGAIISamplerConf):
    _target_: str = "optuna.samplers.NSGAIIISampler"
    reference_points: Any = None
    dividing_parameter: Any = None


@dataclass
class GridSamplerConf(SamplerConf):
    _target_: str = "optuna.samplers.GridSampler"
    _partial_: bool = True  # the grid: the search space's, given when the sweep starts


@dataclass
class QMCSamplerConf(SamplerConf):
    _target_: str = "optuna.samplers.QMCSampler"
    qmc_type: Any = None
    scramble: Any = None


@dataclass
class GPSamplerConf(SamplerConf):
    _target_: str = "optuna.samplers.GPSampler"
    n_startup_trials: Any = None
    deterministic_objective: Any = None


@dataclass
class BruteForceSamplerConf(SamplerConf):
    _target_: str = "optuna.samplers.BruteForceSampler"


_SAMPLERS = {
    "tpe": TPESamplerConf,
    "motpe": TPESamplerConf,  # Optuna's TPE is multi-objective (MOTPESampler is gone)
    "random": RandomSamplerConf,
    "cmaes": CmaEsSamplerConf,
    "nsgaii": NSGAIISamplerConf,
    "nsgaiii": NSGAIIISamplerConf,
    "grid": GridSamplerConf,
    "qmc": QMCSamplerConf,
    "gp": GPSamplerConf,
    "bruteforce": BruteForceSamplerConf,
}

ConfigStore.instance().store(
    group="hydra/sweeper", name="python", node=PythonSweeperConf, provider="hydra_python_sweeper"
)
ConfigStore.instance().store(
    group="hydra/sweeper",
    name="python_optuna",
    node=PythonOptunaSweeperConf,
    provider="hydra_python_sweeper",
)
for _name, _node in _SAMPLERS.items():
    ConfigStore.instance().store(
        group="hydra/sweeper/sampler", name=_name, node=_node, provider="hydra_python_sweeper"
    )
