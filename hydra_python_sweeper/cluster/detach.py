"""A detached sweep: checked in the terminal, then run by a driver that needs none.

``hydra.sweeper.detach=true``: the command checks what it can up front, as an attached sweep
does (the settings, the entrypoints, the first batch's jobs at the sweep's validation level,
the sweep dir's journal and lock), so that mistakes surface in the terminal; then it starts
the *driver*, the same command with the sweep dir fixed and ``detach=false``, in a session of
its own (no controlling terminal: closing it, or a SIGHUP, does not reach the driver), its
output in ``<sweep dir>/driver.log``, and exits. The driver is an ordinary run of the sweep:
``status``, ``cancel`` and a resume work on it as on any other.

    >>> import sys
    >>> saved, sys.argv = sys.argv, ["train.py", "-m", "+lr=0.1,0.2", "hydra.sweeper.detach=true"]
    >>> driver_command(Path("/runs/a b"))[1:]
    ['train.py', '-m', '+lr=0.1,0.2', "hydra.sweep.dir='/runs/a b'", 'hydra.sweeper.detach=false']
    >>> sys.argv = saved
"""

import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import List

from hydra_python_sweeper.cluster.processes import lock_holders
from hydra_python_sweeper.cluster.slurm import sweep_drivers
from hydra_python_sweeper.errors import SweepBusy, SweepDirError
from hydra_python_sweeper.messages import COMMAND, DRIVEN, resume_command
from hydra_python_sweeper.space.values import format_value

log = logging.getLogger(__name__)

#: Where the driver writes its output, in the sweep dir.
DRIVER_LOG = "driver.log"


def driver_command(sweep_dir: Path) -> List[str]:
    """This process's own command, run again as the driver: the sweep dir fixed (it may be
    named after the time), attached."""
    arguments = [
        argument
        for argument in sys.argv[1:]
        if not argument.startswith(("hydra.sweep.dir=", "hydra.sweeper.detach="))
    ]
    where = f"hydra.sweep.dir={format_value(str(sweep_dir.absolute()))}"
    return [sys.executable, sys.argv[0], *arguments, where, DRIVEN]


def start_driver(sweep_dir: Path, shard_index: int = 0, wait: float = 120.0) -> int:
    """Start the sweep's driver in a session of its own; its pid, once it holds the sweep
    (the shard's lock, as the kernel says) or has ended well. A driver that ends without
    holding it (it could not start the sweep, or another process holds it) is an error that
    shows its log's end: the terminal that started it is told, with a non-zero exit code.
    After ``wait`` seconds without either, it is left starting (and said so)."""
    log_path = sweep_dir / DRIVER_LOG
    lock = sweep_dir / f".shard-{shard_index}.lock"
    with open(log_path, "ab") as output:
        driver = subprocess.Popen(
            driver_command(sweep_dir),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # no controlling terminal: no SIGHUP when it closes
            close_fds=True,
        )
    deadline = time.monotonic() + wait
    while driver.poll() is None and driver.pid not in lock_holders(lock):
        if time.monotonic() > deadline:
            log.warning(
                f"The driver (pid {driver.pid}) has not taken the sweep yet after {wait:.0f} s"
            )
            break
        time.sleep(0.05)
    if driver.returncode is not None and driver.returncode != 0:
        tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
        raise SweepDirError(
            f"the sweep's driver ended at once (exit {driver.returncode}); the end of "
            f"{log_path}:\n" + "\n".join(tail)
        )
    return driver.pid


def refuse_second_driver(sweep_dir: Path) -> None:
    """:class:`SweepBusy` if SLURM has a driver of this sweep queued or running (known by its
    tag): a second one would fail on the sweep's lock once it starts, hours later maybe."""
    drivers = sweep_drivers(sweep_dir)
    if drivers:
        shown = ", ".join(f"SLURM job {job.job_id} ({job.state})" for job in drivers)
        raise SweepBusy(
            f"{sweep_dir} already has a driver queued or running: {shown}. Nothing was "
            "submitted; follow it with status, or cancel it first"
        )


def say_detached(sweep_dir: Path, where: str) -> None:
    """Where the driver runs, and the commands to follow, stop and resume the sweep."""
    here = sweep_dir.absolute()
    command = COMMAND
    log.info(
        f"Sweep detached: its driver runs {where}, "
        f"writing {here / DRIVER_LOG}; this terminal may close.\n"
        f"  where it stands: {command} status {here}   (--watch to follow)\n"
        f"  stop it:         {command} cancel {here}\n"
        f"  resume it:       {resume_command(here)}"
    )


def is_driver() -> bool:
    """Whether this process is a detached sweep's driver (its session its own)."""
    return os.getsid(0) == os.getpid()
