"""A real sweep killed in the middle of a batch, then resumed: every job runs to completion
exactly once."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest
from conftest import journal_records, resume

APP = Path(__file__).resolve().parents[1] / "apps" / "durable.py"


def completed_in_journal(sweep_dir: Path) -> List[int]:
    path = sweep_dir / "journal.jsonl"
    if not path.exists():
        return []
    records = journal_records(path)
    return [r["job"] for r in records if r.get("status") == "completed"]


def cancel(marker: str) -> None:
    """SIGKILL every process whose command line holds ``marker``."""
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes().decode():
                os.kill(int(proc.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass


def command(sweep_dir: Path, *extra: str) -> List[str]:
    return [sys.executable, str(APP), "-m", f"hydra.sweep.dir={sweep_dir}", *extra]


@pytest.mark.parametrize(
    "launcher, sig, extra",
    [
        ("basic", signal.SIGTERM, []),
        ("basic", signal.SIGINT, []),
        ("submitit_local", signal.SIGTERM, ["stagger=0.7", "hydra.launcher.timeout_min=5"]),
        (
            "submitit_local",
            signal.SIGTERM,
            ["stagger=0.7", "hydra.launcher.timeout_min=5", "hydra.sweeper.max_in_flight=3"],
        ),
        ("joblib", signal.SIGTERM, ["batch=2", "stagger=0.5", "hydra.sweeper.max_in_flight=3"]),
        ("joblib", signal.SIGINT, ["batch=2", "stagger=0.5", "hydra.sweeper.max_in_flight=3"]),
    ],
    ids=[
        "basic-SIGTERM",
        "basic-SIGINT",
        "submitit-SIGTERM",
        "submitit-in-flight",
        "joblib-in-flight",
        "joblib-Ctrl-C",
    ],
)
def test_kill_in_the_middle_of_a_batch_then_resume(
    tmp_path: Path, launcher: str, sig: int, extra: List[str]
) -> None:
    if launcher != "basic":
        pytest.importorskip(f"hydra_plugins.hydra_{launcher.split('_')[0]}_launcher")
    if launcher == "submitit_local":
        if not Path("/proc").is_dir():
            pytest.skip("cancelling the job array reads /proc")
    sweep_dir = tmp_path / "sweep"
    arguments = [f"hydra/launcher={launcher}", *extra]
    process = subprocess.Popen(
        command(sweep_dir, *arguments),
        cwd=tmp_path,
        stdout=open(tmp_path / "sweeper.log", "wb"),  # not a pipe: orphaned workers hold it
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # Python turns SIGINT into KeyboardInterrupt only if it was not ignored when it started
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while 6 not in completed_in_journal(sweep_dir):  # job 6: in the middle of batch 2 (#5-#9)
        assert process.poll() is None, (tmp_path / "sweeper.log").read_text()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    if launcher == "joblib" and sig != signal.SIGINT:  # the sweeper alone: its workers
        os.kill(process.pid, sig)  # finish their jobs, adopted
    else:  # the whole group, as a terminal's Ctrl-C (a pool's workers too)
        os.killpg(process.pid, sig)
    if launcher == "submitit_local":
        # The job array outlives the sweep's process, as on a cluster: cancel it at once, as
        # scancel would, by killing every process that runs from the sweep's .submitit folder.
        cancel(str(sweep_dir / ".submitit"))
    process.wait(timeout=60)
    output = (tmp_path / "sweeper.log").read_text()
    interrupted = re.search(
        r"^(.*)Interrupted: .* \((\d+) completed, (\d+) failed\)", output, re.MULTILINE
    )
    if sig == signal.SIGINT:  # Ctrl-C: the resume hint and the shell's code, no traceback
        # (Python prints, and ignores, an interrupt that lands in a weakref callback: the
        # sweeper remembers it and stops between batches; one that lands inside OmegaConf
        # may become OmegaConf's own error, which Hydra prints without a traceback)
        # a job hit by it in its own process is interrupted, not failed: no end line
        assert '"status": "failed"' not in (sweep_dir / "journal.jsonl").read_text()
        if interrupted:  # nor counted failed (Hydra 1.4 hands a BaseException to the job-end
            assert interrupted[3] == "0", output  # callback as a failed job: not the user's)
        if launcher == "joblib":  # and no process of the sweep is left: the pool's workers
            from hydra_python_sweeper.cluster.processes import marked  # end, idle or not

            deadline = time.monotonic() + 30
            while marked(sweep_dir):
                assert time.monotonic() < deadline, marked(sweep_dir)
                time.sleep(0.1)
        last = output.strip().splitlines()[-3:]  # an uncaught exception's traceback ends it
        assert not any("Traceback" in line or line.startswith("KeyboardInterrupt") for line in last)
        if "To run the others" in output:
            assert process.returncode == 130, output
            assert "hydra.sweeper.resume=true" in output
        else:  # Hydra's hint for HYDRA_FULL_ERROR, printed by 1.2 and 1.3, not by 1.4
            assert process.returncode == 1, output
    elif launcher == "basic":  # SIGTERM too: the same message, the shell's code for it
        assert process.returncode == 143 and interrupted, output
    if launcher == "submitit_local":
        # The job array outlives the sweep's process, as on a cluster: cancel it, as scancel
        # would, by killing every process that runs from the sweep's .submitit folder.
        cancel(str(sweep_dir / ".submitit"))
    done_before = set(completed_in_journal(sweep_dir))
    # in lockstep, every job of the batches before job 6's had ended (job 5, in its batch,
    # may start after it: a loaded machine); with batches in flight, some may not
    in_flight = any("max_in_flight" in e for e in extra)
    assert ({6} if in_flight else {0, 1, 2, 3, 4, 6}) <= done_before
    assert len(done_before) < 12
    if interrupted:  # its counts are the journal's at that moment: what a resume skips
        assert interrupted[1].endswith("][HYDRA] "), output  # Hydra's log format, not a job's
        if launcher == "basic":  # the jobs ran in the sweeper's process, and died with it
            assert int(interrupted[2]) == len(done_before), output
        else:  # the array's jobs ran on after the message, until cancelled
            assert int(interrupted[2]) <= len(done_before), output

    resumed = resume(command(sweep_dir, *arguments), tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    ran = [int(n) for n in (sweep_dir / "completions.txt").read_text().split()]
    assert sorted(ran) == list(range(12))  # every job ran to completion, exactly once
    assert sorted(completed_in_journal(sweep_dir)) == list(range(12))
    summary = re.search(
        r"Sweep done: (\d+) completed, 0 failed, (\d+) skipped", resumed.stderr + resumed.stdout
    )
    assert summary, resumed.stderr + resumed.stdout
    completed, skipped = int(summary[1]), int(summary[2])
    assert completed + skipped == 12
    try:  # the orphaned workers of a joblib sweep, idle: not left behind
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if launcher == "joblib":  # its orphaned workers may end jobs before the resume reads
        assert skipped >= len(done_before)
    else:
        assert skipped == len(done_before)
