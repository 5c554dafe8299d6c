"""The dry run: every job counted by streaming, the first ones shown and checked.

Nothing is launched and no sweep dir is made; at the sweep's validation level, the jobs it
shows are checked, and each job of a shape it has not met before, so that a mistake shows
in the dry run, not first in the real run.
"""

import logging
from typing import List, Optional

from hydra_python_sweeper.messages import plural
from hydra_python_sweeper.run.pipeline import Stream
from hydra_python_sweeper.run.settings import Settings
from hydra_python_sweeper.run.summary import SweepSummary
from hydra_python_sweeper.run.validate import BatchValidator

log = logging.getLogger(__name__)


def preview(
    settings: Settings, stream: Stream, sweep_dir: str, validator: Optional[BatchValidator] = None
) -> SweepSummary:
    """The dry run: count every job by streaming, show the first ``settings.preview``
    (announced once it is known how many there are to show). At the sweep's validation
    level (``validator``), the jobs shown are checked, and each job of a shape not met
    before, so that a mistake surfaces here, not first in the real run.

        >>> stream = Stream(iter([(0, [["a=1"], ["a=2"]]), (2, [["a=3"]])]), None)
        >>> preview(Settings.of({"dry_run": True}), stream, "multirun/x")
        SweepSummary(jobs=3, batches=2, sweep_dir='multirun/x')
    """
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
