"""The sweeper's settings (``hydra.sweeper.*``), registered as ``hydra/sweeper=python``."""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore


@dataclass
class PythonSweeperConf:
    _target_: str = "hydra_plugins.hydra_python_sweeper.python_sweeper.PythonSweeper"
    #: Jobs per ``launcher.launch()`` call; ``null`` or ``-1``: all jobs in one batch.
    max_batch_size: Optional[int] = None
    #: Dotted paths of functions that return the jobs.
    entrypoints: List[Any] = field(default_factory=list)
    #: Drop a job whose overrides, sorted, equal an earlier job's.
    remove_duplicates: bool = False
    #: Sweep overrides declared in the config, as BasicSweeper's ``params``.
    params: Optional[Dict[str, str]] = None
    #: Compose each job's config just before its batch is launched.
    validate: bool = True
    #: Return every ``JobReturn`` (as BasicSweeper), or only a summary.
    keep_returns: bool = True


ConfigStore.instance().store(
    group="hydra/sweeper", name="python", node=PythonSweeperConf, provider="hydra_python_sweeper"
)
