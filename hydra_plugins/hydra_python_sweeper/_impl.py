"""The sweeper: builds the job pipeline of :mod:`._stages` and launches its batches."""

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from more_itertools import chunked
from omegaconf import DictConfig, OmegaConf

from ._errors import JobError, PythonSweeperError, SettingError
from ._sources import command_line_factors, entrypoint_factors
from ._stages import lazy_product, merge_jobs, number_batches, unique_jobs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepSummary:
    """What a sweep returns with ``keep_returns=false``."""

    jobs: int
    batches: int
    sweep_dir: str


def batch_size(value: Any) -> Optional[int]:
    """``max_batch_size`` checked: a positive int, or ``None`` (``null``/``-1``) for one batch.

    >>> batch_size(None), batch_size(-1), batch_size(1000)
    (None, None, 1000)
    """
    if value is None or value == -1:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise SettingError(
            f"hydra.sweeper.max_batch_size={value!r}: expected a positive integer, "
            "or null or -1 for a single batch"
        )
    return value


def plural(count: int, noun: str) -> str:
    """``count`` and ``noun``, in the plural unless ``count`` is one.

    >>> plural(1, "job"), plural(2, "batch")
    ('1 job', '2 batches')
    """
    if count == 1:
        return f"1 {noun}"
    return f"{count} {noun}{'es' if noun.endswith('ch') else 's'}"


class PythonSweeperImpl(Sweeper):
    def __init__(
        self,
        max_batch_size: Optional[int] = None,
        entrypoints: Optional[Sequence[Any]] = None,
        remove_duplicates: bool = False,
        params: Optional[Dict[str, str]] = None,
        validate: bool = True,
        keep_returns: bool = True,
    ) -> None:
        self.max_batch_size = max_batch_size
        self.entrypoints = list(entrypoints or [])
        self.remove_duplicates = remove_duplicates
        self.params = dict(params or {})
        self.validate = validate
        self.keep_returns = keep_returns
        self.hydra_context: Optional[HydraContext] = None
        self.config: Optional[DictConfig] = None
        self.launcher: Optional[Launcher] = None

    def __repr__(self) -> str:
        return (
            f"PythonSweeper(max_batch_size={self.max_batch_size}, entrypoints={self.entrypoints})"
        )

    def setup(
        self,
        *,
        hydra_context: HydraContext,
        task_function: TaskFunction,
        config: DictConfig,
    ) -> None:
        self.hydra_context = hydra_context
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def jobs(self, arguments: List[str]) -> Iterator[Sequence[str]]:
        """The sweep's jobs, lazily: each a list of override strings.

        Everything that can be checked without generating jobs is checked here,
        when this is called, not when the first job is drawn.
        """
        loader = self.hydra_context.config_loader if self.hydra_context else None
        parser = OverridesParser.create(config_loader=loader)
        given = [f"{key}={value}" for key, value in self.params.items()] + list(arguments)
        factors = command_line_factors(parser.parse_overrides(given))
        factors += entrypoint_factors(self.entrypoints)
        jobs: Iterator[Sequence[str]] = merge_jobs(lazy_product(*factors))
        if self.remove_duplicates:
            jobs = unique_jobs(jobs)
        return jobs

    def sweep(self, arguments: List[str]) -> Any:
        assert self.config is not None and self.launcher is not None
        size = batch_size(self.max_batch_size)
        log.info(f"{self!r} sweeping")
        batches = chunked(self.jobs(arguments), size)

        sweep_dir = Path(self.config.hydra.sweep.dir)
        log.info(f"Sweep output dir : {sweep_dir}")
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")

        returns: List[Sequence[JobReturn]] = []
        launched = batches_done = 0
        try:
            for start, batch in number_batches(batches):
                log.info(f"Batch {batches_done + 1} : jobs #{start} to #{start + len(batch) - 1}")
                if self.validate:
                    self.validate_jobs(start, batch)
                results = self.launcher.launch(batch, initial_job_idx=start)
                for result in results:
                    _ = result.return_value  # raises if the job failed
                launched += len(batch)
                batches_done += 1
                if self.keep_returns:
                    returns.append(results)
        except PythonSweeperError as error:
            if launched:
                error.args = (
                    f"{error}\n({plural(launched, 'job')} in {plural(batches_done, 'batch')} "
                    f"completed before this error; their outputs are in {sweep_dir})",
                )
            raise
        if not launched:
            log.info("The sweep has no jobs: nothing was launched")
        if self.keep_returns:
            return returns
        return SweepSummary(jobs=launched, batches=batches_done, sweep_dir=str(sweep_dir))

    def validate_jobs(self, start: int, batch: Iterable[Sequence[str]]) -> None:
        """Compose each job's config, as the launcher will; fail on the first that cannot."""
        tic = time.perf_counter()
        number = start
        for number, job in enumerate(batch, start):
            try:
                self.validate_batch_is_legal([job])
            except Exception as error:
                raise JobError(
                    f"job #{number} ({' '.join(job)}) cannot be composed: {error}"
                ) from None
        log.debug(
            f"Validated jobs #{start} to #{number} in {time.perf_counter() - tic:0.2f} seconds"
        )
