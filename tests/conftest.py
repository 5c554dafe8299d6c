"""Shared fixtures: a sweeper wired to a launcher that records instead of running."""

from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Tuple

import pytest
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf

from hydra_plugins.hydra_python_sweeper._impl import PythonSweeperImpl


class RecordingLauncher:
    """Records each batch and returns completed jobs; ``on_launch`` may inspect or fail."""

    def __init__(self, on_launch: Optional[Callable[[int, Sequence[Sequence[str]]], Any]] = None):
        self.batches: List[Tuple[int, List[List[str]]]] = []
        self.on_launch = on_launch

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> List[JobReturn]:
        self.batches.append((initial_job_idx, [list(job) for job in job_overrides]))
        failing = self.on_launch(initial_job_idx, job_overrides) if self.on_launch else None
        returns = []
        for offset, job in enumerate(job_overrides):
            number = initial_job_idx + offset
            failed = failing is not None and number == failing
            returns.append(
                JobReturn(
                    overrides=list(job),
                    status=JobStatus.FAILED if failed else JobStatus.COMPLETED,
                    _return_value=RuntimeError(f"job {number} failed") if failed else number,
                )
            )
        return returns

    @property
    def jobs(self) -> List[List[str]]:
        return [job for _, batch in self.batches for job in batch]


@pytest.fixture
def make_sweeper(tmp_path: Path) -> Callable[..., PythonSweeperImpl]:
    """A sweeper with the given settings, its sweep dir in ``tmp_path``, launching into a
    :class:`RecordingLauncher` (``sweeper.launcher``); configs are not validated."""

    def make(launcher: Optional[RecordingLauncher] = None, **settings: Any) -> PythonSweeperImpl:
        settings.setdefault("validate", False)
        sweeper = PythonSweeperImpl(**settings)
        sweeper.config = OmegaConf.create(
            {"hydra": {"sweep": {"dir": str(tmp_path / "sweep")}, "overrides": {"hydra": []}}}
        )
        sweeper.launcher = launcher or RecordingLauncher()  # type: ignore[assignment]
        return sweeper

    return make
