"""The SLURM tests' helpers and fixtures (tests/end_to_end/test_slurm*.py).

A real SLURM cluster (tests/slurm/start-slurm.sh: three nodes, slurmdbd, MaxArraySize=1001)
runs the sweeper's batches as job arrays through hydra-submitit-launcher.

Each job writes its start and its end to a ledger of the test's own (tests/apps/ledger.py),
so that how many times each job ran is counted apart from the sweeper's journal. Skipped,
with the reason, where no cluster runs.
"""

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest
from conftest import journal_records

APP = Path(__file__).resolve().parents[1] / "apps" / "ledger.py"


def command(sweep_dir: Path, *arguments: str) -> List[str]:
    return [
        *(sys.executable, str(APP), "-m", f"hydra.sweep.dir={sweep_dir}"),
        "hydra.sweeper.poll_interval=1",  # SLURM asked every second, not every ten
        *arguments,
    ]


def sweep(
    sweep_dir: Path, *arguments: str, timeout: int = 300
) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(  # its log: Hydra's on stdout, errors on stderr, as one
        command(sweep_dir, *arguments),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        cwd=sweep_dir.parent,
    )


def start(sweep_dir: Path, *arguments: str) -> "subprocess.Popen[str]":
    log = open(sweep_dir.parent / "sweeper.log", "w")
    return subprocess.Popen(
        command(sweep_dir, *arguments),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=sweep_dir.parent,
        start_new_session=True,  # a signal to it reaches the sweeper alone
        # Ctrl-C reaches it even when the tests run with SIGINT ignored (a shell's background
        # job): Python turns SIGINT into KeyboardInterrupt only if it was not ignored at start
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def ledger(sweep_dir: Path) -> List[Dict[str, Any]]:
    path = sweep_dir / "ledger.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def runs(sweep_dir: Path, event: str = "end") -> Counter:
    """How many times each job number reached ``event`` (``start`` or ``end``)."""
    return Counter(record["num"] for record in ledger(sweep_dir) if record["event"] == event)


def journal(sweep_dir: Path) -> List[Dict[str, Any]]:
    return journal_records(sweep_dir / "journal.jsonl")


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def squeue(*options: str) -> List[str]:
    done = subprocess.run(
        ["squeue", "-h", "-r", *options, "-o", "%i|%T|%k"], capture_output=True, text=True
    )
    return done.stdout.split()


def tasks_of(sweep_dir: Path, states: str = "PENDING,RUNNING") -> List[str]:
    """The sweep's array tasks SLURM has in ``states``: their job ids."""
    from hydra_python_sweeper.cluster.slurm import sweep_id

    mine = sweep_id(sweep_dir)
    lines = squeue("-t", states)
    return [line.split("|")[0] for line in lines if mine in line and ":driver" not in line]


def check_each_job_once(sweep_dir: Path, n: int) -> None:
    """Every job ran to its end exactly once, with exactly its own config."""
    ended, expected = runs(sweep_dir), Counter(range(n))
    assert ended == expected, (
        f"ran more than once: {sorted((ended - expected).elements())}; "
        f"never ran to its end: {sorted((expected - ended).elements())}"
    )
    for record in ledger(sweep_dir):
        num = record["num"]
        assert record["overrides"][-2:] == [f"+x={num}", f"+name='job {num}'"]
        assert (record["cfg"]["x"], record["cfg"]["name"]) == (num, f"job {num}")


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    return tmp_path / "sweep"


@pytest.fixture(autouse=True)
def _cancel_what_is_left(sweep_dir: Path) -> Any:
    yield
    left = tasks_of(sweep_dir, "all")
    if (sweep_dir / "driver.slurm").exists():  # a detached sweep's driver
        left.append((sweep_dir / "driver.slurm").read_text().strip())
    if left:
        subprocess.run(["scancel", *{task.split("_")[0] for task in left}], check=False)


def numbered(n: int) -> str:
    return f"hydra.sweeper.entrypoints=[{{_target_: launched_spaces.numbered, n: {n}}}]"
