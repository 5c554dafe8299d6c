"""What a sweep returns when it keeps no returns, and what it says when it has no jobs.

>>> SweepSummary(jobs=0, batches=0, sweep_dir="multirun/a").batches
0
"""

import logging
from dataclasses import dataclass

from hydra_python_sweeper.run.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepSummary:
    """What a sweep returns with ``keep_returns=false`` (and a dry run).

    >>> SweepSummary(jobs=14, batches=1, sweep_dir="multirun/a").jobs
    14
    """

    jobs: int
    batches: int
    sweep_dir: str


def say_empty(settings: Settings) -> None:
    """The sweep, or this process's shard of it, has no jobs."""
    if settings.sharded:
        log.info(
            f"{settings.shard_name()} is empty: the sweep has too few batches to reach it; "
            "nothing was launched"
        )
    else:
        log.info("The sweep has no jobs: nothing was launched")
