"""The dry run: every job counted by streaming, the first ones shown and checked.

Nothing is launched and no sweep dir is made; at the sweep's validation level, the jobs it
shows are checked, and each job of a shape it has not met before, so that a mistake shows
in the dry run, not first in the real run.
"""

import logging
from dataclasses import dataclass
from typing import List, Optional

from ._messages import plural
from ._pipeline import Stream
from ._settings import Settings
from ._validate import BatchValidator

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


def preview(
    settings: Settings, stream: Stream, sweep_dir: str, validator: Optional[BatchValidator] = None
) -> SweepSummary:
    """The dry run: count every job by streaming, show the first ``settings.preview``
    (announced once it is known how many there are to show). At the sweep's validation
    level (``validator``), the jobs shown are checked, and each job of a shape not met
    before, so that a mistake surfaces here, not first in the real run."""
    first: List[str] = []
    announced = False
    jobs = count = 0
    for start, batch in stream.batches:
        shown = batch[: max(0, settings.preview - jobs)]
        if validator is not None:
            validator.check(start, shown)
            validator.check_new(start + len(shown), batch[len(shown) :])
        for number, job in enumerate(shown, start):
            first.append(f"\t#{number} : {' '.join(job)}")
        jobs += len(batch)
        count += 1
        if not announced and jobs >= settings.preview:
            _announce(first)
            announced = True
    if not announced:
        _announce(first)
    shard = f" ({settings.shard_name(capital=False)})" if settings.sharded else ""
    dropped = f" ({stream.dropped()[2:]})" if stream.dropped() else ""
    log.info(f"Dry run: {plural(jobs, 'job')} in {plural(count, 'batch')}{shard}{dropped}")
    return SweepSummary(jobs=jobs, batches=count, sweep_dir=sweep_dir)


def _announce(first: List[str]) -> None:
    heading = f" The first {plural(len(first), 'job')}:" if first else ""
    log.info(f"Dry run: nothing is launched.{heading}")
    for line in first:
        log.info(line)
