"""Jobs packed into tasks: a batch's jobs run by a few SLURM (or submitit local) tasks, each
task running whole Hydra jobs one after the other in one process, taking the next job of
its batch as soon as it is free (as disBatch and HyperQueue do), so that no task idles while
another still has jobs waiting.

A packed batch is three files in ``<sweep dir>/.packs/``: its jobs, written once as JSON lines
(:func:`write_pack`), a counter of the jobs taken (:func:`take`, under a ``flock``), and
what every task of the batch runs its jobs with (Hydra's launcher and state, pickled once for
all of them: :func:`write_state`, :func:`read_state`). The tasks need nothing else: a task
that is requeued (preemption, its time limit) takes up where the batch is; a job taken by a
task that died before its end line is left to the sweeper, which finds it without an end and
handles it as any lost job (``retries``, a resume)::

    >>> import tempfile
    >>> pack = write_pack(pack_path(Path(tempfile.mkdtemp()), "a1"), [(7, ["x=1"]), (8, ["x=2"])])
    >>> [take(pack), take(pack), take(pack)]
    [0, 1, None]
    >>> read_pack(pack)
    [(7, ['x=1']), (8, ['x=2'])]
    >>> write_state(pack, b"state"); read_state(pack)
    b'state'
"""

import json
import os
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

#: The folder of the packed batches' files, in the sweep dir.
PACKS = ".packs"


def pack_path(sweep_dir: Path, launch: str) -> Path:
    """Where the pack of the batch launched as ``launch`` goes (its folder made)."""
    folder = sweep_dir / PACKS
    folder.mkdir(exist_ok=True)
    return folder / f"{launch}.jobs"


def write_pack(path: Path, jobs: Sequence[Tuple[int, Sequence[str]]]) -> Path:
    """Write a batch's jobs (number, overrides) for its tasks at ``path``; the pack's path
    (its counter beside it, ``<path>.taken``)."""
    text = "".join(json.dumps([number, list(job)]) + "\n" for number, job in jobs)
    path.write_text(text)
    Path(f"{path}.taken").write_bytes(b"0 %d" % len(jobs))  # taken, of how many
    return path


def read_pack(path: Path) -> List[Tuple[int, List[str]]]:
    """A packed batch's jobs, in order."""
    return [tuple(json.loads(line)) for line in path.read_text().splitlines()]


def take(path: Path) -> Optional[int]:
    """The index of the next job of the pack at ``path`` that no task has taken, now taken
    (``None``: none is left). Tasks on any node take turns on the counter's lock."""
    import fcntl

    fd = os.open(f"{path}.taken", os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX)  # POSIX locks: the ones network file systems share
        taken, total = map(int, os.pread(fd, 64, 0).split())
        if taken >= total:
            return None
        os.pwrite(fd, b"%d %d" % (taken + 1, total), 0)
        os.fsync(fd)
        return taken
    finally:
        os.close(fd)  # and the lock with it


def write_state(path: Path, state: bytes) -> None:
    """What the tasks of the pack at ``path`` run its jobs with, written once for all of
    them (a task's own submission then carries the pack's path alone)."""
    Path(f"{path}.task").write_bytes(state)


def read_state(path: Path) -> bytes:
    """What :func:`write_state` wrote for the pack at ``path``."""
    return Path(f"{path}.task").read_bytes()


def remove_pack(path: Path) -> None:
    """A packed batch's files, once its tasks have ended."""
    for name in (path, Path(f"{path}.taken"), Path(f"{path}.task")):
        try:
            name.unlink()
        except FileNotFoundError:
            pass
