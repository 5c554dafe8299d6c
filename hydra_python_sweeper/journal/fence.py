"""The fence: a job that starts after a newer run of its sweep has begun does not run.

A batch handed to a launcher may start long after the process that launched it is gone: a
SLURM array queued for days, a process pool's queued tasks, a job whose process was still
starting when its sweeper was killed. If a resume has begun meanwhile, that resume owns the
sweep, and runs the job itself. The two sides take turns under the journal's lock
(:func:`.writer.append`), so that one of them always sees the other:

- a new run appends its run line and moves the fence (``.shard-<i>.run``, the number of the
  newest run of the shard) in one turn; then it looks at the jobs that started;
- a job, in its turn, reads the fence: if a newer run has begun, it writes nothing and stands
  down (its task is not called, and it fails as the older run's job); else it writes its
  started line, which the newer run, coming after, sees.

So either the job stands down or the new run sees it start: no job runs under two runs.

    >>> import tempfile
    >>> fence = Fence(str(Path(tempfile.mkdtemp())), shard=0, run=1)
    >>> fence.move(), fence.current()
    (None, True)
    >>> Fence(fence.sweep_dir, shard=0, run=2).move(); fence.current()
    False
"""

from pathlib import Path
from typing import Set

#: The jobs of this process that stood down (the task wrapper, then the journal's end
#: callback, read it: they run in the job's own process, after its start callback).
_STOOD_DOWN: Set[int] = set()


class Superseded(Exception):
    """A newer run of the sweep began before this job started: it stands down."""


class Fence:
    """Run ``run`` of shard ``shard`` of the sweep in ``sweep_dir`` (a string: it travels
    pickled to the jobs)."""

    def __init__(self, sweep_dir: str, shard: int, run: int) -> None:
        self.sweep_dir = sweep_dir
        self.shard = shard
        self.run = run

    @property
    def path(self) -> Path:
        return Path(self.sweep_dir) / f".shard-{self.shard}.run"

    def move(self) -> None:
        """This run begins: jobs of the shard's older runs that start from now stand down."""
        self.path.write_text(f"{self.run}\n")

    def current(self) -> bool:
        """Whether this run is still the shard's newest (no fence: it is)."""
        try:
            newest = int(self.path.read_text().strip() or 0)
        except (OSError, ValueError):
            return True
        return newest <= self.run


def close(sweep_dir: Path, run: int) -> None:
    """A cancel: on every shard, the jobs of runs before ``run`` (the next run's number) that
    start from now stand down, and those running see it (:mod:`.termination`).

    >>> import tempfile
    >>> fence = Fence(tempfile.mkdtemp(), shard=0, run=1); fence.move()
    >>> close(Path(fence.sweep_dir), 2); fence.current(), Fence(fence.sweep_dir, 0, 2).current()
    (False, True)
    """
    for path in Path(sweep_dir).glob(".shard-*.run"):
        shard = int(path.name[len(".shard-") : -len(".run")])
        fence = Fence(str(sweep_dir), shard, run)
        if fence.current():  # never moved back
            fence.move()


def stand_down(number: int) -> None:
    """Job ``number``, in this process, stands down (see :func:`stood_down`)."""
    _STOOD_DOWN.add(number)


def stood_down(number: int) -> bool:
    """Whether job ``number``, in this process, stood down (its task is not called)."""
    return number in _STOOD_DOWN


def forget(number: int) -> None:
    """Job ``number`` has ended: this process forgets that it stood down."""
    _STOOD_DOWN.discard(number)
