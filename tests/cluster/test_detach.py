"""``hydra.sweeper.detach=true``: checked in the terminal, run by a driver that needs none."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import List

import pytest
from conftest import journal_records

APPS = Path(__file__).resolve().parents[1] / "apps"
NOPE = "launched_spaces.nope"  # an entrypoint that does not exist


def durable(sweep_dir: Path, *extra: str) -> List[str]:
    return [sys.executable, str(APPS / "durable.py"), "-m", f"hydra.sweep.dir={sweep_dir}", *extra]


def ran(sweep_dir: Path) -> Counter:
    path = sweep_dir / "completions.txt"
    return Counter(int(n) for n in path.read_text().split()) if path.exists() else Counter()


@pytest.mark.skipif(not hasattr(os, "getsid"), reason="POSIX sessions")
def test_a_detached_sweep_returns_at_once_survives_its_terminal_and_completes(
    tmp_path: Path,
) -> None:
    sweep_dir = tmp_path / "sweep"
    terminal = subprocess.Popen(  # in a session of its own, as a login shell's would be
        durable(sweep_dir, "sleep=0.5", "hydra.sweeper.detach=true"),
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    output = terminal.communicate(timeout=120)[0]
    assert terminal.returncode == 0, output
    journal = (
        (sweep_dir / "journal.jsonl").read_text() if (sweep_dir / "journal.jsonl").exists() else ""
    )
    assert '"done": ' not in journal  # the command returned before the sweep's end
    found = re.search(r"its driver runs as pid (\d+) on", output)
    assert found, output
    driver = int(found[1])
    assert os.getsid(driver) == driver != os.getsid(0)  # a session of its own
    assert "this terminal may close" in output and "status " in output and "cancel " in output
    try:
        os.killpg(terminal.pid, signal.SIGHUP)  # the terminal closes
    except ProcessLookupError:
        pass  # its group is gone already
    deadline = time.monotonic() + 120
    while "Sweep done: " not in (sweep_dir / "driver.log").read_text():  # after the done line
        assert time.monotonic() < deadline, (sweep_dir / "driver.log").read_text()[-2000:]
        time.sleep(0.2)
    assert '"done": ' in (sweep_dir / "journal.jsonl").read_text()
    assert ran(sweep_dir) == Counter(range(12))
    assert "Sweep done: 12 completed" in (sweep_dir / "driver.log").read_text()
    status = subprocess.run(
        [sys.executable, "-m", "hydra_plugins.hydra_python_sweeper", "status", str(sweep_dir)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "1 run, ended" in status.stdout and "Jobs: 12 completed, 0 failed" in status.stdout
    # the terminal's resume command and status's are the same: detached, as it was started
    said = re.search(r"resume it: +(.*)", output)
    assert said and "hydra.sweeper.detach=true" in said[1].split(), output
    as_json = subprocess.run(
        [sys.executable, "-m", "hydra_plugins.hydra_python_sweeper", "status", "--json",
         str(sweep_dir)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    resume = json.loads(as_json.stdout)["resume"]
    assert resume.endswith("hydra.sweeper.detach=true") and "detach=false" not in resume


def test_a_mistake_surfaces_in_the_terminal_and_nothing_is_detached(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    done = subprocess.run(
        durable(sweep_dir, "hydra.sweeper.detach=true", f"hydra.sweeper.entrypoints=[{NOPE}]"),
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert "launched_spaces.nope" in done.stderr and "Traceback" not in done.stderr
    assert not (sweep_dir / "driver.log").exists() and not (sweep_dir / "journal.jsonl").exists()
    typo = subprocess.run(  # a key the config does not have, at the first batch's validation
        durable(sweep_dir, "hydra.sweeper.detach=true", "slep=1"),
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert typo.returncode == 1 and "slep" in typo.stderr and "Traceback" not in typo.stderr
    assert not (sweep_dir / "driver.log").exists()


LAUNCHERS = {
    "submitit_local": ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5"],
    "joblib": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=4"],
}


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_a_driver_killed_mid_sweep_is_resumed_and_each_job_runs_once(
    tmp_path: Path, launcher: str
) -> None:
    """The driver SIGKILLed while its batch runs (submitit_local's jobs go on and are
    adopted; joblib's workers die with it); the resume command it printed, given at once,
    runs the rest: every job ends once, none is launched while it still runs."""
    pytest.importorskip(f"hydra_plugins.hydra_{launcher.split('_')[0]}_launcher")
    sweep_dir = tmp_path / "sweep"
    release = tmp_path / "release"  # jobs #4 to #7 run until the test makes it
    arguments = [
        "sleep=0.5", "batch=4", f"hold={release}", "hold_from=4", *LAUNCHERS[launcher],
        "hydra.sweeper.detach=true",
    ]  # fmt: skip
    started = subprocess.run(
        durable(sweep_dir, *arguments), cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    output = started.stdout + started.stderr
    found = re.search(r"its driver runs as pid (\d+) on", output)
    assert started.returncode == 0 and found, output
    journal = sweep_dir / "journal.jsonl"
    deadline = time.monotonic() + 120
    while not journal.exists() or '"job": 5, "status": "started"' not in journal.read_text():
        assert time.monotonic() < deadline, (sweep_dir / "driver.log").read_text()[-2000:]
        time.sleep(0.05)
    os.kill(int(found[1]), signal.SIGKILL)  # the driver alone: its batch's jobs run on
    resumed = subprocess.run(
        [*durable(sweep_dir, *arguments), "hydra.sweeper.resume=true"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    adopted = r"launched by an earlier run, still run: #\d+ \(pid \d+\)"
    if launcher == "submitit_local":  # its held jobs outlived the driver: adopted
        while not re.search(adopted, (sweep_dir / "driver.log").read_text()):
            assert time.monotonic() < deadline, (sweep_dir / "driver.log").read_text()[-3000:]
            time.sleep(0.05)
    release.touch()  # now the held jobs may end
    while journal.read_text().count('"done": ') < 1:
        assert time.monotonic() < deadline + 120, (sweep_dir / "driver.log").read_text()[-3000:]
        time.sleep(0.2)
    assert ran(sweep_dir) == Counter(range(12))  # each job once, none twice nor never
    log = (sweep_dir / "driver.log").read_text()
    if launcher == "submitit_local":  # adopted, each ending once (checked above and below)
        assert re.search(adopted, log), log
    ends = [r for r in journal_records(journal) if r.get("status") in ("completed", "failed")]
    assert sorted(r["job"] for r in ends) == list(range(12))  # one end each
    try:  # what is left of the killed driver's session (idle joblib workers): not left behind
        os.killpg(int(found[1]), signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_a_local_driver_that_cannot_take_the_sweep_fails_its_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process took the sweep between the start's checks and its driver (here: the
    test holds the shard's lock): the driver fails on it, and the start that launched it says
    so, with the driver's log, instead of printing where its driver runs."""
    import fcntl

    from hydra_python_sweeper.cluster.detach import start_driver
    from hydra_python_sweeper.errors import SweepDirError

    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", durable(sweep_dir, "sleep=0.1")[1:])
    with open(sweep_dir / ".shard-0.lock", "w") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        lock.write(f"pid {os.getpid()} on host test, since now, no shards\n")
        lock.flush()
        with pytest.raises(SweepDirError, match="the sweep's driver ended at once") as info:
            start_driver(sweep_dir)
    assert "is being run by pid" in str(info.value)
    assert not (sweep_dir / "journal.jsonl").exists()


def test_a_local_start_returns_once_its_driver_holds_the_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hydra_python_sweeper.cluster.detach import start_driver
    from hydra_python_sweeper.cluster.processes import lock_holders

    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", durable(sweep_dir, "sleep=1")[1:])
    pid = start_driver(sweep_dir)
    try:
        assert lock_holders(sweep_dir / ".shard-0.lock") == [pid]
    finally:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.1)
