"""``cancel``: stop a sweep, and every job of it still queued or running that it can prove is
the sweep's; say what it found and left alone.

In order: the sweep's SLURM drivers (the jobs carrying its driver tag, as SLURM lists them),
the sweeper (the holders of the dir's shard locks, as this host's kernel lists them), the
sweep's SLURM arrays (their tag, one ``squeue`` call; cancelled with ``scancel``, never by
pid), then the processes of this host that are provably the sweep's: each job's process whose
pid *and start time* are its started line's, and submitit's local executor for the sweep's own
``.submitit`` folder (:mod:`..cluster.processes`). Each is signalled only once pinned and
proved (SIGTERM, then SIGKILL after a grace period). A pid that a file names but that cannot be
proved is named in the output, and left alone. A later resume carries on from the journal::

    >>> import tempfile
    >>> sweep_dir = Path(tempfile.mkdtemp())
    >>> _ = (sweep_dir / "journal.jsonl").write_text("")
    >>> print(cancel_sweep(sweep_dir))  # doctest: +ELLIPSIS
    Nothing of the sweep was running
    A later resume carries on: ...
"""

import shutil
import signal
import subprocess
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

from hydra_python_sweeper.cluster.driver import DRIVER_JOB
from hydra_python_sweeper.cluster.liveness import alive_here
from hydra_python_sweeper.cluster.processes import (
    Process,
    executor_of,
    local_executor,
    lock_holders,
    marked,
    marked_by,
    send,
)
from hydra_python_sweeper.cluster.slurm import alive_tasks, cancel_command, sweep_drivers
from hydra_python_sweeper.errors import JournalError
from hydra_python_sweeper.journal.admission import run_number, running_now
from hydra_python_sweeper.journal.fence import close
from hydra_python_sweeper.journal.files import check_regular
from hydra_python_sweeper.journal.lines import FILENAME
from hydra_python_sweeper.journal.origin import process_start
from hydra_python_sweeper.journal.reader import read, read_more
from hydra_python_sweeper.journal.writer import append

#: A process to stop: what it is, and the proof, asked again before each signal.
Target = Tuple[str, Callable[[], bool]]


def cancel_sweep(sweep_dir: Path, wait: float = 30.0) -> str:
    """Cancel the sweep in ``sweep_dir``; what was done, and left alone, line by line."""
    sweep_dir = Path(sweep_dir)
    path = sweep_dir / FILENAME
    check_regular(path)
    if not path.is_file():
        raise JournalError(f"there is no journal in {sweep_dir} ({path} is not a file)")
    said: List[str] = []
    # first, the fence: a job of the sweep that starts from now stands down, and one that
    # runs stops at its SIGTERM (it would run on until SLURM's SIGKILL, which can land
    # after its function and before its end line): a resume runs it again
    offset = path.stat().st_size
    state = read(path)  # read once: what was appended since is read on, below
    append(path, then=partial(close, sweep_dir, run_number(state)))
    if shutil.which("squeue"):  # by their tag: driver.slurm may be missing (killed before
        said.extend(_cancel_drivers(sweep_dir))  # it was written) or name another job
    _stop(_sweepers(sweep_dir, said), said, wait, kill=False)  # it stops in order
    if shutil.which("squeue"):
        tasks = alive_tasks(sweep_dir)
        if tasks:
            command = cancel_command(tasks)
            subprocess.run(command.split(), check=False)
            said.append(f"Cancelled {len(tasks)} SLURM tasks of the sweep: {command}")
    targets: Dict[int, Target] = {}
    read_more(path, state, offset)  # the jobs that started while the sweeper was stopping
    for job, process in alive_here(state):
        if process.proven:
            targets[process.pid] = (f"job #{job}", process.is_it)
        else:
            said.append(
                f"Left alone pid {process.pid}: job #{job}'s started line names it, but was "
                "written before 0.6 and records no process start to prove it is still the "
                "job (stop it yourself if it is)"
            )
    for pid, what in local_executor(sweep_dir).items():
        targets.setdefault(pid, (what, partial(executor_of, pid, sweep_dir)))
    for pid, what in marked(sweep_dir).items():  # a pool's workers, a job's own processes
        targets.setdefault(pid, (what, partial(marked_by, pid, sweep_dir)))
    _stop(targets, said, min(wait, 5.0))  # some ignore SIGTERM (submitit's): SIGKILL after
    if not said:
        said.append("Nothing of the sweep was running")
    said.append(_after(state))
    return "\n".join(said)


def _after(state: Any) -> str:
    """What a resume would do after the cancel, by how the sweep's last run ended."""
    if state.finished:
        return "The sweep had finished, every job completed: there is nothing to resume"
    if state.ended:
        return (
            "The sweep had ended, with failed jobs: a resume with hydra.sweeper.resume=true "
            "and hydra.sweeper.retry_failed=true runs them again, as `status` shows it"
        )
    return "A later resume carries on: hydra.sweeper.resume=true, as `status` shows it"


def _cancel_drivers(sweep_dir: Path) -> List[str]:
    """Cancel the SLURM jobs that carry the sweep's driver tag (never one a file names)."""
    drivers = sweep_drivers(sweep_dir)
    file = sweep_dir / DRIVER_JOB
    if drivers is None:  # said only of a sweep that was detached on SLURM
        failed = "SLURM cannot be asked for the sweep's driver (squeue failed): none cancelled"
        return [failed] if file.exists() else []
    named = file.read_text(errors="replace").strip() if file.exists() else ""
    said = []
    for job in drivers:
        subprocess.run(["scancel", job.job_id], check=False)
        said.append(f"Cancelled the sweep's driver (SLURM job {job.job_id}, {job.state})")
    if named and named not in {job.job_id for job in drivers}:
        said.append(
            f"Left alone SLURM job {named[:40]}: {DRIVER_JOB} names it, but SLURM has no job "
            "of that id queued or running with this sweep's driver tag"
        )
    return said


def _sweepers(sweep_dir: Path, said: List[str]) -> Dict[int, Target]:
    """The processes that run the sweep: the holders of its shard locks, as the kernel says
    (the text in a lock only says who wrote it)."""
    found: Dict[int, Target] = {}
    for index, _, holder in running_now(sweep_dir, -1):
        lock = sweep_dir / f".shard-{index}.lock"
        pids = lock_holders(lock)
        if not pids:
            said.append(f"The sweeper runs on another host ({holder}): stop it there")
        for pid in pids:
            found[pid] = ("the sweeper", partial(_holds, pid, lock))
    return found


def _holds(pid: int, lock: Path) -> bool:
    return pid in lock_holders(lock)


def _stop(targets: Dict[int, Target], said: List[str], grace: float, kill: bool = True) -> None:
    """SIGTERM each target, proved, and wait up to ``grace`` seconds for them to exit; then
    (``kill``) SIGKILL those still there, still proved; say what was done."""
    started = {pid: process_start(pid) for pid in targets}
    sent = [pid for pid, (_, proof) in targets.items() if send(pid, signal.SIGTERM, proof)]
    running = [Process(pid, started[pid]) for pid in sent]
    deadline = time.monotonic() + grace
    while any(p.alive() for p in running) and time.monotonic() < deadline:
        time.sleep(0.1)
    for process in running:
        what, proof = targets[process.pid]
        killed = kill and process.alive() and send(process.pid, signal.SIGKILL, proof)
        said.append(f"Stopped {what} (pid {process.pid}, {'SIGKILL' if killed else 'SIGTERM'})")
    if kill and running:  # what was killed has exited before the next step
        deadline = time.monotonic() + 5.0
        while any(p.alive() for p in running) and time.monotonic() < deadline:
            time.sleep(0.05)
