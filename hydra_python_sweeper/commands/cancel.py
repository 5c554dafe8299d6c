"""``cancel``: stop a sweep, and every job of it still queued or running that it knows of.

A detached sweep's SLURM driver is cancelled first, and the sweeper that runs the sweep (the
holder of the dir's lock) is stopped, so that it launches nothing more; then the sweep's SLURM
arrays are cancelled (found by the tag in their comment, one ``squeue`` call), and the jobs
the journal says started and have not ended are stopped where they run on this host, with
the processes of the sweep's local executor
(submitit's, which run from its ``.submitit`` folder): SIGTERM, then SIGKILL for those still
there after a grace period. A later resume carries on from the journal::

    >>> import tempfile
    >>> sweep_dir = Path(tempfile.mkdtemp())
    >>> _ = (sweep_dir / "journal.jsonl").write_text("")
    >>> print(cancel_sweep(sweep_dir))  # doctest: +ELLIPSIS
    Nothing of the sweep was running
    A later resume carries on: ...
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import List

from hydra_python_sweeper.cluster.driver import DRIVER_JOB
from hydra_python_sweeper.cluster.liveness import alive_here, pid_alive
from hydra_python_sweeper.cluster.slurm import alive_tasks, cancel_command
from hydra_python_sweeper.errors import JournalError
from hydra_python_sweeper.journal.admission import running_now
from hydra_python_sweeper.journal.lines import FILENAME
from hydra_python_sweeper.journal.reader import read

_HOLDER = re.compile(r"pid (\d+) on host (\S+?),")


def cancel_sweep(sweep_dir: Path, wait: float = 30.0) -> str:
    """Cancel the sweep in ``sweep_dir``; what was done, said line by line."""
    path = Path(sweep_dir) / FILENAME
    if not path.is_file():
        raise JournalError(f"there is no journal in {sweep_dir} ({path} is not a file)")
    said: List[str] = []
    here = socket.gethostname()
    driver = Path(sweep_dir) / DRIVER_JOB  # a detached sweep's SLURM driver
    if driver.exists() and shutil.which("scancel"):
        driver_job = driver.read_text().strip()
        subprocess.run(["scancel", driver_job], check=False)
        said.append(f"Cancelled the sweep's driver (SLURM job {driver_job})")
    stopped = []
    for _, _, holder in running_now(Path(sweep_dir), -1):
        found = _HOLDER.search(holder)
        if found and found[2] == here:
            _signal(int(found[1]), signal.SIGTERM)
            stopped.append(int(found[1]))
            said.append(f"Stopped the sweeper (pid {found[1]}, SIGTERM)")
        else:
            said.append(f"The sweeper runs elsewhere ({holder}): stop it there")
    deadline = time.monotonic() + wait
    while any(map(pid_alive, stopped)) and time.monotonic() < deadline:
        time.sleep(0.1)
    if shutil.which("squeue"):
        tasks = alive_tasks(Path(sweep_dir))
        if tasks:
            command = cancel_command(tasks)
            subprocess.run(command.split(), check=False)
            said.append(f"Cancelled {len(tasks)} SLURM tasks of the sweep: {command}")
    jobs = {pid: f"job #{job}" for job, pid in alive_here(read(path))}
    for pid in _local_executor(Path(sweep_dir)):
        jobs.setdefault(pid, "a process of the local executor")
    alive = [pid for pid in jobs if pid_alive(pid)]
    for pid in alive:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + min(wait, 5.0)  # some ignore SIGTERM (submitit's)
    while any(map(pid_alive, alive)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in alive:
        killed = pid_alive(pid)
        if killed:
            _signal(pid, signal.SIGKILL)
        said.append(f"Stopped {jobs[pid]} (pid {pid}, {'SIGKILL' if killed else 'SIGTERM'})")
    if not said:
        said.append("Nothing of the sweep was running")
    said.append("A later resume carries on: hydra.sweeper.resume=true, as `status` shows it")
    return "\n".join(said)


def _local_executor(sweep_dir: Path) -> List[int]:
    """The processes on this host that run from the sweep's ``.submitit`` folder (Linux)."""
    folder = str(sweep_dir.absolute() / ".submitit").encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if folder in (proc / "cmdline").read_bytes() and int(proc.name) != os.getpid():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:  # it ended meanwhile
        pass
