"""Which jobs of a sweep may still run: started in the journal, not ended, their process alive.

A job array outlives the process that submitted it. Before a resume launches anything, it
waits for the earlier runs' jobs that still run where it can tell (SLURM's tasks,
:func:`wait_for_slurm`; processes on this host, :func:`wait_for_local`), their ends reaching
the journal from the jobs; then :func:`refuse_if_running` looks at the jobs whose last
journal line says they started: on this host, a job whose process is gone died with it (a
process that took its pid since is not it: :class:`.processes.Process`); one on another host
may still be running, and resuming now would run it twice.

    >>> from hydra_python_sweeper.journal.reader import JournalState, read_more
    >>> running_elsewhere(JournalState())
    []
"""

import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any, Container, Dict, List, Optional, Set, Tuple

from hydra_python_sweeper.cluster.processes import Process
from hydra_python_sweeper.cluster.slurm import alive_tasks, cancel_command, describe
from hydra_python_sweeper.errors import ResumeError
from hydra_python_sweeper.journal.reader import JournalState, read_more
from hydra_python_sweeper.messages import plural

log = logging.getLogger(__name__)


def running_elsewhere(
    state: JournalState, slurm: Optional[Set[str]] = None
) -> List[Tuple[int, str]]:
    """The jobs the journal says started and have not ended, that may still be running: a
    SLURM task that ``slurm`` (the ids of the sweep's tasks SLURM has queued or running,
    when it was asked) holds; on this host, a process alive; on another host, nothing here
    can tell. Each with where it runs."""
    here = socket.gethostname()
    running = []
    for job, raw in sorted(state.started.items()):
        try:
            record = json.loads(raw)
            host, pid = record.get("host"), record.get("pid")
        except (ValueError, RecursionError):
            record, host, pid = {}, None, None
        task = record.get("slurm")
        if slurm is not None and isinstance(task, str):
            if task in slurm:
                running.append((job, f"SLURM task {task}"))
            continue  # SLURM has it no more: it ended without a line (cancelled, lost)
        if host == here and isinstance(pid, int) and not process_of(record).alive():
            continue  # its process is gone (or its pid is another's now): it died with it
        where = f"pid {pid} on this host" if host == here else f"pid {pid} on host {host}"
        running.append((job, where))
    return running


def refuse_if_running(
    journal: JournalState,
    force: bool,
    slurm: Optional[Set[str]] = None,
    adopted: Container[int] = (),
) -> None:
    """Refuse to resume while jobs of the sweep may still run (an orphaned job array),
    unless ``force`` (``resume=force``): then say which run again. ``slurm``: the ids of
    the sweep's tasks SLURM has queued or running, when it was asked; ``adopted``: the jobs
    the resume adopts (:mod:`run.adoption`)."""
    running = [job for job in running_elsewhere(journal, slurm) if job[0] not in adopted]
    if not running:
        return
    shown = ", ".join(f"#{job} ({where})" for job, where in running[:10])
    more = f" and {len(running) - 10} more" if len(running) > 10 else ""
    if force:
        log.warning(f"hydra.sweeper.resume=force: running again {shown}{more}")
        return
    raise ResumeError(
        f"{plural(len(running), 'job')} of this sweep started and have not ended: "
        f"{shown}{more}. They may still be running (a job array outlives the process "
        "that submitted it): resuming now would run them twice. Nothing was launched. "
        "Wait for them to end, or cancel them (scancel for a SLURM array, kill for a "
        "local process), then resume; hydra.sweeper.resume=force runs them again "
        "whatever their state."
    )


def wait_for_slurm(sweep_dir: Path, poll: float) -> None:
    """A resume: wait while SLURM has tasks of this sweep queued or running (an earlier
    run's arrays, which outlive the process that submitted them), so that none of their
    jobs is launched a second time; their ends reach the journal from the tasks."""
    tasks = alive_tasks(sweep_dir)
    if not tasks:
        return
    log.warning(
        f"{plural(len(tasks), 'SLURM task')} of this sweep, submitted by an earlier run, "
        f"are still queued or running: {describe(tasks)}. Waiting for them to end before "
        f"launching anything (to cancel them instead: {cancel_command(tasks)})"
    )
    while tasks:
        time.sleep(poll)
        tasks = alive_tasks(sweep_dir)
    log.info("The earlier run's SLURM tasks have ended: resuming")


def wait_for_local(journal: JournalState, path: Path, poll: float) -> None:
    """A resume: wait while jobs of the sweep that started on this host still run (an earlier
    run's executor outlives it: submitit's local one does), reading their ends from the
    journal at ``path`` as they arrive, so that none of them is launched a second time."""
    running = alive_here(journal)
    if not running:
        return
    shown = ", ".join(f"#{job} (pid {pid})" for job, pid in running[:10])
    more = f" and {len(running) - 10} more" if len(running) > 10 else ""
    log.warning(
        f"{plural(len(running), 'job')} of this sweep, launched by an earlier run, still "
        f"run on this host: {shown}{more}. Waiting for them to end before launching anything "
        f"(to stop them instead: kill {' '.join(str(pid) for _, pid in running)})"
    )
    while running:
        offset = path.stat().st_size
        time.sleep(poll)
        read_more(path, journal, offset)  # their ends, as they arrive
        running = alive_here(journal)
    log.info("The earlier run's jobs on this host have ended: resuming")


def alive_here(journal: JournalState) -> List[Tuple[int, Process]]:
    """The started jobs whose process runs on this host, outside SLURM (and not this
    process): each with its :class:`Process`, the same one its started line names (a line
    written before 0.6 names a pid only: a process alive under it counts, unproven)."""
    found = []
    for job, raw in sorted(journal.started.items()):
        process = local_process(json.loads(raw))
        if process is not None and process.pid != os.getpid() and process.alive():
            found.append((job, process))
    return found


def local_process(record: Dict[str, Any]) -> Optional[Process]:
    """The process of this host, outside SLURM, that a job's started line names (``None``:
    the line names a SLURM task, another host, or no pid). SLURM's tasks are SLURM's to ask.

    >>> local_process({"host": socket.gethostname(), "pid": 12, "since": 345})
    Process(pid=12, since=345)
    >>> local_process({"host": socket.gethostname(), "pid": 12, "slurm": "7_0"}) is None
    True
    """
    pid = record.get("pid")
    if record.get("slurm") or record.get("host") != socket.gethostname():
        return None
    return process_of(record) if isinstance(pid, int) else None


def process_of(record: Dict[str, Any]) -> Process:
    """The process a job's started line names (its ``pid`` and ``since``).

    >>> process_of({"pid": 12, "since": 345})
    Process(pid=12, since=345)
    """
    since = record.get("since")
    return Process(record["pid"], since if isinstance(since, int) else None)
