"""Admission of a run into a sweep dir: the locks, the journal's fingerprint, the reuse rules.

Runs are admitted one at a time (:func:`admission`, a lock on the dir held only for this):
the run takes its shard's lock (:func:`take_lock`, held while it runs), checks that no run
of the dir running now overlaps it (:func:`refuse_overlap`: a run without shards overlaps
every shard, and shards must cut the sweep the same way), decides from the journal already
there whether it may go on (:func:`check_journal`: a new sweep in an empty dir, a resume of
the same sweep, a shard that cuts the same batches, a sweep run to its end and run again),
and appends its run line (:func:`start_journal`). A run admitted after it sees its line.

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
import re
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Tuple

from hydra_python_sweeper.errors import ResumeError, SweepBusy, SweepDirError, sweep_dir_errors
from hydra_python_sweeper.journal.fence import Fence
from hydra_python_sweeper.journal.files import check_regular, open_regular
from hydra_python_sweeper.journal.lines import FILENAME, fingerprint, run_line
from hydra_python_sweeper.journal.reader import JournalState, read
from hydra_python_sweeper.journal.writer import append

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
        other = next(r for r in state.runs if r.get("fingerprint") != fingerprint(sweep))
        raise ResumeError(
            f"{path}, line {other.get('_line', '?')}, records another sweep, which has not "
            f"run to its end with every job completed ({_differences(other.get('sweep'), sweep)})"
            ". Nothing was launched: resume that sweep, or choose another hydra.sweep.dir for "
            "this one."
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


def _differences(recorded: Any, sweep: Dict[str, Any]) -> str:
    """What differs between the sweep a run line records and this one, said briefly.

    >>> _differences({"entrypoints": ["a.f"], "params": {}}, {"entrypoints": ["a.g"], "params": {}})
    "entrypoints: ['a.f'] there, ['a.g'] here"
    """
    if not isinstance(recorded, dict):
        return f"it records {str(recorded)[:200]!r}"
    keys = sorted(set(recorded) | set(sweep), key=str)
    changed = [k for k in keys if recorded.get(k) != sweep.get(k)]
    if not changed:
        return (
            "the same entrypoints, command line and settings, under another fingerprint: its "
            "run line was edited, or written by a version that fingerprints sweeps otherwise"
        )
    return "; ".join(
        f"{k}: {recorded.get(k)!r:.200} there, {sweep.get(k)!r:.200} here" for k in changed
    )


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
    the shard's fence (:mod:`.fence`) in the same turn; return the journal's path."""
    path = sweep_dir / FILENAME
    fence = Fence(str(sweep_dir.absolute()), settings["shard_index"], run_number(state))
    append(path, run_line(fence.run, resume, sweep, settings), then=fence.move)
    return path


def save_config(sweep_dir: Path, config: Any) -> None:
    """Write the sweep's config as ``multirun.yaml``, as Hydra's sweepers do; never through a
    symbolic link (it would write another file)."""
    from omegaconf import OmegaConf

    path = sweep_dir / "multirun.yaml"
    if path.is_symlink():
        raise SweepDirError(
            f"cannot write the sweep dir {sweep_dir}: {path} is a symbolic link, which the "
            "sweeper does not write through. Nothing was launched."
        )
    OmegaConf.save(config, path)


def run_number(state: Optional[JournalState]) -> int:
    """The number of the run that starts after ``state`` (1: a new sweep)."""
    return len(state.runs) + 1 if state is not None else 1


@contextmanager
def admission(sweep_dir: Path) -> Iterator[None]:
    """Admit one run at a time into ``sweep_dir``: an exclusive ``flock`` on
    ``.admission.lock`` for as long as the block runs (none where the system has none)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    fd = open_regular(sweep_dir / ".admission.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # and the lock with it


class Admitted(NamedTuple):
    """A run admitted into its sweep dir: its shard's lock (held while it runs; ``None``
    where the system has no locks), the journal already there (``None``: a new sweep) and
    its size when it was read."""

    lock: Any
    journal: Optional[JournalState]
    offset: int


@contextmanager
def admit(
    sweep_dir: Path,
    sweep: Dict[str, Any],
    settings: Dict[str, Any],
    resume: bool,
    shard_index: int = 0,
    num_shards: int = 1,
) -> Iterator[Admitted]:
    """The one admission of a run, or of a detached start, into ``sweep_dir``: the dir made,
    one run admitted at a time (:func:`admission`), this shard's lock taken (:func:`take_lock`),
    no run of the dir running now that overlaps it (:func:`refuse_overlap`), the journal there
    checked (:func:`check_journal`). The block runs admitted (it writes the run line); the lock
    is released if it raises, and otherwise is the caller's to close.

        >>> import tempfile
        >>> sweep_dir = Path(tempfile.mkdtemp()) / "new"
        >>> with admit(sweep_dir, {"entrypoints": ["m.f"]}, {"num_shards": 1}, False) as run:
        ...     print(run.journal, run.offset)
        None 0
        >>> run.lock.close()
    """
    with sweep_dir_errors(sweep_dir):
        sweep_dir.mkdir(parents=True, exist_ok=True)
    for name in (FILENAME, ".admission.lock", f".shard-{shard_index}.lock"):
        check_regular(sweep_dir / name)  # before any lock is held: a FIFO would block
    with sweep_dir_errors(sweep_dir), admission(sweep_dir):
        lock = take_lock(sweep_dir, shard_index, num_shards)
        try:
            refuse_overlap(sweep_dir, shard_index, num_shards)
            path = sweep_dir / FILENAME
            offset = path.stat().st_size if path.exists() else 0  # what check_journal reads
            yield Admitted(lock, check_journal(sweep_dir, sweep, settings, resume), offset)
        except BaseException:
            if lock is not None:
                lock.close()
            raise


def take_lock(sweep_dir: Path, shard_index: int, num_shards: int = 1) -> Any:
    """Own this shard of the sweep dir for as long as the returned file stays open: an
    exclusive ``flock`` on ``.shard-<i>.lock``, which the system releases when the process
    ends however it ends. :class:`SweepBusy`, saying who holds it, if another process does.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        return None
    path = sweep_dir / f".shard-{shard_index}.lock"
    handle = open(open_regular(path, os.O_RDWR | os.O_CREAT), "r+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = handle.read().strip() or "another process"
        handle.close()
        shard = f" (shard index {shard_index})" if shard_index else ""
        raise _busy(f"{sweep_dir}{shard} is being run by {holder}") from None
    handle.truncate(0)
    layout = f"shard {shard_index} of {num_shards}" if num_shards > 1 else "no shards"
    handle.write(
        f"pid {os.getpid()} on host {socket.gethostname()}, since {time.ctime()}, {layout}\n"
    )
    handle.flush()
    return handle


def _busy(what: str) -> SweepBusy:
    return SweepBusy(
        f"{what}: a second process would run its jobs again. Nothing was launched; wait for "
        "it to end (or stop it), then resume with hydra.sweeper.resume=true."
    )


_LAYOUT = re.compile(r", (?:shard \d+ of (\d+)|(no shards))$")


def running_now(sweep_dir: Path, mine: int) -> List[Tuple[int, Optional[int], str]]:
    """The other shards of the dir that a process runs now (their lock held): each with its
    number of shards (1: a run without shards; ``None``: not said) and who holds it."""
    import fcntl

    running = []
    for path in sweep_dir.glob(".shard-*.lock"):
        index = path.name[len(".shard-") : -len(".lock")]
        if not index.isdigit() or int(index) == mine:
            continue
        with open(open_regular(path, os.O_RDONLY)) as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
                continue  # nobody holds it
            except OSError:
                holder = handle.read().strip()
        layout = _LAYOUT.search(holder)
        shards = None if layout is None else 1 if layout[2] else int(layout[1])
        running.append((int(index), shards, holder or "another process"))
    return running


def refuse_overlap(sweep_dir: Path, shard_index: int, num_shards: int) -> None:
    """:class:`SweepBusy` if a run of the dir running now overlaps this one (shard
    ``shard_index`` of ``num_shards``): a run without shards overlaps every other run; a
    shard, a run cut into another number of shards."""
    try:
        import fcntl  # noqa: F401
    except ImportError:  # not POSIX: no lock to ask
        return
    for _, shards, holder in sorted(running_now(sweep_dir, shard_index)):
        if num_shards == 1 or shards != num_shards:
            raise _busy(f"{sweep_dir} is being run by {holder}")
