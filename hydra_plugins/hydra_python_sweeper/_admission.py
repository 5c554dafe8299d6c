"""Admission of a run into a sweep dir: the lock, the journal's fingerprint, the reuse rules.

A process owns a shard of the sweep dir while it runs it (:func:`take_lock`). Before it
launches anything, :func:`check_journal` decides from the journal already there whether this
run may go on: a new sweep in an empty dir, a resume of the same sweep, a shard that cuts
the same batches, a sweep run to its end and run again. :func:`start_journal` then appends
the run's line (:func:`._lines.run_line`).

    >>> import tempfile
    >>> sweep_dir = Path(tempfile.mkdtemp())
    >>> settings = {"max_batch_size": 2, "num_shards": 1, "shard_index": 0}
    >>> check_journal(sweep_dir, {"entrypoints": ["m.f"]}, settings, False) is None
    True
    >>> start_journal(sweep_dir, {"entrypoints": ["m.f"]}, settings, None, False).name
    'journal.jsonl'
"""

import logging
import os
import socket
import time
from pathlib import Path
from typing import Any, Dict, Optional

from ._errors import ResumeError, SweepBusy, SweepDirError
from ._fence import Fence
from ._lines import FILENAME, fingerprint, run_line
from ._reader import JournalState, read
from ._writer import NOFOLLOW, append

log = logging.getLogger(__name__)


def check_journal(
    sweep_dir: Path, sweep: Dict[str, Any], settings: Dict[str, Any], resume: bool
) -> Optional[JournalState]:
    """The state of the sweep dir's journal, checked for this run; ``None`` if there is none
    (a new sweep). :class:`ResumeError` when this run must not go on: a resume without a
    journal, or of another sweep; a new sweep in a dir that holds one (unless it is a new
    shard of the same sweep); shards whose batches would not be cut the same way."""
    path = sweep_dir / FILENAME
    if path.is_symlink():  # never read, nor written through: it would be another file
        raise SweepDirError(
            f"cannot write the sweep dir {sweep_dir}: its journal {path} is a symbolic link, "
            "which the sweeper neither reads nor writes through. Nothing was launched."
        )
    if not path.exists():
        if resume:
            raise ResumeError(
                f"hydra.sweeper.resume=true, but there is no {path}: point hydra.sweep.dir at "
                "the sweep to resume"
            )
        return None
    state = read(path)
    if not state.runs and not state.size:  # empty, or only runs that launched nothing
        if resume:
            raise ResumeError(
                f"hydra.sweeper.resume=true, but {path} records no job: nothing was "
                "launched in this dir, so there is nothing to resume; run the sweep without "
                "hydra.sweeper.resume"
            )
        kept = _set_aside(path)
        log.info(f"{path} recorded no job (its runs launched nothing): kept as {kept.name}")
        return None
    if {run.get("fingerprint") for run in state.runs} - {fingerprint(sweep)}:
        recorded = state.runs[0].get("sweep") if state.runs else None
        if not resume and state.finished and not state.started and settings["num_shards"] == 1:
            # Hydra's documented pattern: one fixed hydra.sweep.dir, subdirs named by
            # ${hydra.job.override_dirname}; a sweep that ran to its end, every job of it
            # completed, yields the dir (failed jobs are still work to resume).
            kept = _set_aside(path)
            log.warning(
                f"{sweep_dir} holds another sweep, run to its end: this one takes the dir "
                f"(its journal is kept as {kept.name}; outputs of the same names are "
                "overwritten)"
            )
            return None
        raise ResumeError(
            f"{path} records another sweep, which has not run to its end with every job "
            f"completed: {recorded}; this one is {sweep}. Nothing was launched: resume that "
            "sweep, or choose another hydra.sweep.dir for this one."
        )
    sharded = settings["num_shards"] > 1
    if sharded:  # the shards must agree with each other (a run without shards may differ)
        for run in (r for r in state.runs if (r.get("num_shards") or 1) > 1):
            theirs = {k: run.get(k) for k in ("max_batch_size", "num_shards")}
            ours = {k: settings[k] for k in theirs}
            if theirs != ours:
                raise ResumeError(
                    f"{path}: run {run.get('run')} of this sweep had {_settings(theirs)}, this "
                    f"one has {_settings(ours)}: shards must cut the sweep into the same "
                    "batches, or jobs would run twice or never. Nothing was launched."
                )
    if not resume:
        mine = [r for r in state.runs if r.get("shard_index", 0) == settings["shard_index"]]
        if not sharded and state.finished and not state.started:
            # The same sweep, run to its end: running it again is what BasicSweeper does
            # (Hydra's own tests do it). Its journal is kept aside; outputs are overwritten.
            kept = _set_aside(path)
            log.warning(
                f"{sweep_dir} holds this sweep, run to its end: running it again, over its "
                f"outputs (its journal is kept as {kept.name})"
            )
            return None
        if not sharded or mine:
            raise ResumeError(
                f"{sweep_dir} already holds a sweep's journal ({path}): starting again would "
                "run every job again into the same directories. Resume it with "
                "hydra.sweeper.resume=true, or choose another hydra.sweep.dir. Nothing was "
                "launched."
            )
    return state


def _set_aside(path: Path) -> Path:
    """Rename the journal ``journal.jsonl.<n>``, the first ``n`` not taken; return it."""
    number = 1
    while path.with_name(f"{path.name}.{number}").exists():
        number += 1
    kept = path.with_name(f"{path.name}.{number}")
    os.rename(path, kept)
    return kept


def _settings(settings: Dict[str, Any]) -> str:
    return ", ".join(f"hydra.sweeper.{k}={v}" for k, v in settings.items())


def start_journal(
    sweep_dir: Path,
    sweep: Dict[str, Any],
    settings: Dict[str, Any],
    state: Optional[JournalState],
    resume: bool,
) -> Path:
    """Append this run's line to the sweep's journal (``state``: what it held), and move
    the shard's fence (:mod:`._fence`) in the same turn; return the journal's path."""
    path = sweep_dir / FILENAME
    fence = Fence(str(sweep_dir.absolute()), settings["shard_index"], run_number(state))
    append(path, run_line(fence.run, resume, sweep, settings), then=fence.move)
    return path


def run_number(state: Optional[JournalState]) -> int:
    """The number of the run that starts after ``state`` (1: a new sweep)."""
    return len(state.runs) + 1 if state is not None else 1


def take_lock(sweep_dir: Path, shard_index: int) -> Any:
    """Own this shard of the sweep dir for as long as the returned file stays open: an
    exclusive ``flock`` on ``.shard-<i>.lock``, which the system releases when the process
    ends however it ends. :class:`SweepBusy`, saying who holds it, if another process does.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        return None
    path = sweep_dir / f".shard-{shard_index}.lock"
    handle = open(os.open(path, os.O_RDWR | os.O_CREAT | NOFOLLOW, 0o644), "r+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = handle.read().strip() or "another process"
        handle.close()
        shard = f" (shard index {shard_index})" if shard_index else ""
        raise SweepBusy(
            f"{sweep_dir}{shard} is being run by {holder}: a second process would run its "
            "jobs again. Nothing was launched; wait for it to end (or stop it), then resume "
            "with hydra.sweeper.resume=true."
        ) from None
    handle.truncate(0)
    handle.write(f"pid {os.getpid()} on host {socket.gethostname()}, since {time.ctime()}\n")
    handle.flush()
    return handle
