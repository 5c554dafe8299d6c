"""Which jobs of a sweep may still run: started in the journal, not ended, their process alive.

A job array outlives the process that submitted it. Before a resume launches anything,
:func:`refuse_if_running` looks at the jobs whose last journal line says they started: on
this host, a job whose process is gone died with it; any other may still be running, and
resuming now would run it twice.

    >>> from ._reader import JournalState
    >>> running_elsewhere(JournalState())
    []
"""

import json
import logging
import os
import socket
from typing import List, Tuple

from ._errors import ResumeError
from ._messages import plural
from ._reader import JournalState

log = logging.getLogger(__name__)


def running_elsewhere(state: JournalState) -> List[Tuple[int, str]]:
    """The jobs the journal says started and have not ended, that may still be running: on
    this host, their process is alive; on another host, nothing here can tell. Each with
    where it runs."""
    here = socket.gethostname()
    running = []
    for job, raw in sorted(state.started.items()):
        try:
            record = json.loads(raw)
            host, pid = record.get("host"), record.get("pid")
        except ValueError:
            host, pid = None, None
        if host == here and isinstance(pid, int) and not _alive(pid):
            continue  # its process is gone: it died with it
        where = f"pid {pid} on this host" if host == here else f"pid {pid} on host {host}"
        running.append((job, where))
    return running


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (a zombie, killed and not yet reaped, does
    not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass  # it exists, and is another user's
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc to tell: alive
    return state not in (b"Z", b"X")


def refuse_if_running(journal: JournalState, force: bool) -> None:
    """Refuse to resume while jobs of the sweep may still run (an orphaned job array),
    unless ``force`` (``resume=force``): then say which run again."""
    running = running_elsewhere(journal)
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
