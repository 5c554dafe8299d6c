"""A job's SIGTERM (:mod:`hydra_python_sweeper.journal.termination`), in real processes: a
cancel's SIGTERM stops the job's function, any other goes to the handler that was there,
and none cuts the job's end (it lands once the end is written)."""

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# A job in a process of its own: the guard set as the journal's start callback sets it,
# the function run, then the end written; SIGTERM sent to itself where ``{when}`` says.
JOB = """
import os, signal, sys
from hydra_python_sweeper.journal.fence import Fence
from hydra_python_sweeper.journal.termination import Interrupted, guard, release, running

# Python's own, as a terminal's foreground process has it (a test run in the background
# inherits SIGINT ignored)
signal.signal(signal.SIGINT, signal.default_int_handler)
{handler}
fence = Fence(sys.argv[1], shard=0, run=1)
fence.move()
guard(fence)
try:
    with running():
        {cancel}
        {in_function}
        print("function returned", flush=True)
except Interrupted as error:
    print(f"interrupted: {{error}}", flush=True)
{in_end}
print("end written", flush=True)
release()
print("after release", flush=True)
"""

SIGTERM = "os.kill(os.getpid(), signal.SIGTERM)"
MOVE = "Fence(sys.argv[1], shard=0, run=2).move()"
BYPASS = (
    "signal.signal(signal.SIGTERM, lambda s, f: print('bypassed', flush=True))  # as submitit does"
)


def job(tmp_path: Path, **parts: str) -> "subprocess.CompletedProcess[str]":
    fields = {"handler": "", "cancel": "", "in_function": "", "in_end": ""}
    fields.update(parts)
    script = JOB.format(**fields)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_cancel_s_sigterm_stops_the_function_and_the_end_is_still_written(
    tmp_path: Path,
) -> None:
    done = job(tmp_path, handler=BYPASS, cancel=MOVE, in_function=SIGTERM)
    assert done.stdout.splitlines() == [
        "interrupted: the sweep was cancelled",
        "end written",
        "after release",
    ], done.stderr


@pytest.mark.parametrize("handler", [BYPASS, ""], ids=["submitit", "default"])
def test_a_sigterm_of_a_sweep_not_cancelled_goes_to_the_handler_that_was_there(
    tmp_path: Path, handler: str
) -> None:
    done = job(tmp_path, handler=handler, in_function=SIGTERM)
    if handler:
        assert done.stdout.splitlines()[:2] == ["bypassed", "function returned"]
    else:
        assert done.returncode == -signal.SIGTERM and done.stdout == ""


@pytest.mark.parametrize("cancel", [MOVE, ""], ids=["cancelled", "not-cancelled"])
def test_a_sigterm_after_the_function_waits_for_the_end_line(tmp_path: Path, cancel: str) -> None:
    """SLURM's or cancel's SIGTERM landing after the function returned: the job's end is
    written before the process ends by it (else the job would run again at the resume)."""
    done = job(tmp_path, cancel=cancel, in_end=SIGTERM)
    assert done.stdout.splitlines() == ["function returned", "end written"]
    assert done.returncode == -signal.SIGTERM


def test_the_sweeper_s_own_process_keeps_its_handler(tmp_path: Path) -> None:
    done = job(
        tmp_path,
        handler=BYPASS + "\nimport hydra_python_sweeper.journal.termination as t\n"
        "t.SWEEPER_PID = os.getpid()",
        cancel=MOVE,
        in_function=SIGTERM,
    )
    assert done.stdout.splitlines()[:2] == ["bypassed", "function returned"], done.stderr


SIGINT = "os.kill(os.getpid(), signal.SIGINT)"


def test_a_ctrl_c_in_the_function_interrupts_it_and_one_after_waits_for_the_end(
    tmp_path: Path,
) -> None:
    """A terminal's Ctrl-C reaches a pool's workers too: the job is interrupted, not failed
    (its function raises Interrupted); after its function, it lands once the end is
    written."""
    done = job(tmp_path, in_function=SIGINT)
    assert done.stdout.splitlines() == [
        "interrupted: the sweep was interrupted (Ctrl-C)",
        "end written",
        "after release",
    ], done.stderr
    done = job(tmp_path, in_end=SIGINT)
    assert done.stdout.splitlines() == ["function returned", "end written"]
    assert done.returncode == 130 and done.stderr == ""  # it ends, quietly


def test_a_ctrl_c_between_jobs_ends_the_process_quietly(tmp_path: Path) -> None:
    """A pool's worker between two jobs: Python's own handler would raise anywhere (in a
    weakref callback, printed after the sweeper's last line)."""
    done = job(tmp_path, in_end="print('end', flush=True)\nrelease()\n" + SIGINT)
    assert done.stdout.splitlines() == ["function returned", "end"]
    assert done.returncode == 130 and done.stderr == ""


def test_an_ignored_ctrl_c_stays_ignored(tmp_path: Path) -> None:
    """A job started with SIGINT ignored (in the background): no Ctrl-C is meant for it."""
    ignore = "signal.signal(signal.SIGINT, signal.SIG_IGN)"
    done = job(tmp_path, handler=ignore, in_function="os.kill(os.getpid(), signal.SIGINT)")
    assert done.stdout.splitlines() == ["function returned", "end written", "after release"], (
        done.stderr
    )
