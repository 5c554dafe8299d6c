"""Journals written by each released version (tests/assets/journals/<version>.jsonl, saved
as those versions wrote them: ``tests/apps/exits.py`` run with ``how=exit code=3
hydra.sweeper.fail_fast=false`` then resumed once) are read, shown and resumed by this one."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hydra_python_sweeper.commands.status import sweep_status
from hydra_python_sweeper.journal.reader import read
from hydra_python_sweeper.journal.records import read_results

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "journals"
APPS = Path(__file__).resolve().parents[1] / "apps"
VERSIONS = sorted(path.stem for path in ASSETS.glob("*.jsonl"))


def test_every_released_format_is_kept() -> None:
    assert VERSIONS == ["0.3", "0.4", "0.5"]


@pytest.fixture(params=VERSIONS)
def sweep_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    sweep_dir = tmp_path / request.param
    sweep_dir.mkdir()
    shutil.copy(ASSETS / f"{request.param}.jsonl", sweep_dir / "journal.jsonl")
    return sweep_dir


def test_an_old_journal_reads_as_it_was_written(sweep_dir: Path) -> None:
    path = sweep_dir / "journal.jsonl"
    first = json.loads(path.read_text().splitlines()[0])
    assert first["version"] == f"{sweep_dir.name}.0"  # as that version wrote it
    state = read(path)
    assert len(state.runs) == 2 and state.ended
    assert bytes(state.status) == bytes([1, 1, 1, 1, 2, 1, 1])  # job #4 failed, twice
    status = sweep_status(sweep_dir)
    total = None if sweep_dir.name == "0.3" else 7  # run lines record the total since 0.4
    assert (status.completed, status.failed, status.total, status.running) == (6, 1, total, 0)
    assert status.failures == [("TaskExited('the task called sys.exit(3)')", 1, [4])]
    records = list(read_results(sweep_dir))
    assert [r.number for r in records] == list(range(7))
    assert records[2].overrides == {"how": "exit", "code": 3, "x": 2, "name": "job 2"}
    assert records[2].returned == 2 and records[4].status == "failed"


def test_an_old_journal_is_resumed_by_this_version(sweep_dir: Path) -> None:
    done = subprocess.run(
        [
            sys.executable, str(APPS / "exits.py"), "-m", f"hydra.sweep.dir={sweep_dir}",
            "how=exit", "code=3", "hydra.sweeper.fail_fast=false", "hydra/launcher=basic",
            "hydra.sweeper.resume=true",
        ],
        capture_output=True, text=True, timeout=120, cwd=APPS,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-2000:]  # job #4 fails again, alone
    assert "1 job of 1 failed (#4)" in done.stderr
    state = read(sweep_dir / "journal.jsonl")
    assert len(state.runs) == 3 and bytes(state.status) == bytes([1, 1, 1, 1, 2, 1, 1])
    lines = (sweep_dir / "journal.jsonl").read_text().splitlines()
    assert sum('"status": "started"' in line for line in lines[20:]) == 1  # job #4 alone
