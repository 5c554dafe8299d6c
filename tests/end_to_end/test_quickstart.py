"""The README's quickstart, run as written: its files are taken from the README itself, so
that it cannot go stale."""

import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def quickstart_files() -> Dict[str, str]:
    """Every code block of the quickstart whose first line names its file (``# path``)."""
    text = README.read_text()
    section = text[text.index("## Quickstart") :]
    section = section[: section.index("\n## ", 1)]
    files = {}
    for block in re.findall(r"```(?:yaml|python)\n(.*?)```", section, re.DOTALL):
        block = re.sub(r"(?m)^   ", "", block)  # the blocks are indented under their step
        first, _, body = block.partition("\n")
        if first.startswith("# ") and "." in first:
            files[first[2:].strip()] = body
    return files


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("quickstart")
    files = quickstart_files()
    assert sorted(files) == ["conf/config.yaml", "sweeps.py", "train.py"]
    for name, body in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(body)
    return root


def run(project: Path, *arguments: str) -> str:
    done = subprocess.run(
        [sys.executable, "train.py", *arguments],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def test_the_quickstart_sweep_launches_14_jobs(project: Path) -> None:
    log = run(project, "-m", "hydra.sweep.dir=multirun/a")
    assert "Launching 14 jobs locally" in log
    assert "3 layers of [64, 64, 64], lr 0.01" in log


def test_a_command_line_sweep_combines_with_it(project: Path) -> None:
    log = run(project, "-m", "optim.lr=0.1,0.01", "hydra.sweep.dir=multirun/b")
    assert "Launching 28 jobs locally" in log
    assert "1 layers of [32], lr 0.1" in log


def test_the_dry_run_counts_the_jobs(project: Path) -> None:
    log = run(project, "-m", "hydra.sweeper.dry_run=true")
    assert "Dry run: 14 jobs in 1 batch" in log


def test_without_multirun_one_job_runs_with_the_defaults(project: Path) -> None:
    assert "1 layers of [32], lr 0.01" in run(project)


def test_the_packed_slurm_config_of_the_readme_is_checked_by_a_dry_run(project: Path) -> None:
    """The README's SLURM section's config, in place of the quickstart's: its settings and
    the launcher's are accepted, and its 14 jobs pass validation, packed."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    text = README.read_text()
    section = text[text.index("## On SLURM") :]
    block = re.search(r"```yaml\n# conf/config.yaml[^\n]*\n(.*?)```", section, re.DOTALL)
    assert block is not None
    (project / "conf" / "packed.yaml").write_text(block[1])
    log = run(project, "--config-name", "packed", "-m", "hydra.sweeper.dry_run=true")
    assert "Dry run: 14 jobs in 1 batch" in log


def test_the_sweeps_of_coming_from_another_sweeper_do_what_they_say() -> None:
    text = (README.parent / "docs" / "entrypoints.md").read_text()
    section = text[text.index("## Coming from another sweeper") :]
    source = re.search(r"```python\n# sweeps.py\n(.*?)```", section, re.DOTALL)
    assert source is not None
    sweeps: Dict[str, Any] = {}
    exec(source[1], sweeps)
    grid = list(sweeps["grid"]())
    assert len(grid) == 4
    kept = [job for job in grid if sweeps["not_deep_and_slow"](job)]
    assert kept == [job for job in grid if job != {"lr": 0.01, "depth": 4}]  # drops one
    assert len(list(sweeps["zipped"]())) == 2
    assert len(list(sweeps["conditional"]())) == 3 + 2 * 6
