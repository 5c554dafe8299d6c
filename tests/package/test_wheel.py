"""The wheel: what it holds, and that it works installed alone, away from the source tree."""

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("hydra_python_sweeper-*.whl")
    return built


def test_the_wheel_holds_the_namespace_package_and_py_typed_not_the_tests(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "hydra_plugins/hydra_python_sweeper/py.typed" in names
    assert "hydra_plugins/hydra_python_sweeper/python_sweeper.py" in names
    assert "hydra_python_sweeper/py.typed" in names
    assert "hydra_python_sweeper/journal/writer.py" in names
    assert "hydra_plugins/__init__.py" not in names
    assert not [n for n in names if n.startswith(("tests/", "bench/", "example/"))]


def test_the_installed_wheel_runs_the_example_outside_the_source_tree(
    wheel: Path, tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The dependencies come from this environment's site-packages, less this project
    # (which a non-editable install put there) ...
    deps = tmp_path / "deps"
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if entry.name == "hydra_plugins":
            (deps / "hydra_plugins").mkdir()
            for plugin in entry.iterdir():
                if plugin.name != "hydra_python_sweeper":
                    (deps / "hydra_plugins" / plugin.name).symlink_to(plugin)
        elif "hydra_python_sweeper" not in entry.name and entry.suffix != ".pth":
            (deps / entry.name).symlink_to(entry)
    (Path(site) / "deps.pth").write_text(f"{deps}\n")
    # ... and the sweeper from the wheel alone.
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    app = tmp_path / "app"
    shutil.copytree(ROOT / "example", app)
    completed = subprocess.run(
        [
            str(python),
            "train.py",
            "-m",
            f"hydra.sweep.dir={tmp_path / 'sweep'}",
            "hydra/launcher=basic",
            "hydra.sweeper.max_batch_size=5",
        ],
        cwd=app,
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.count("Launching 5 jobs locally") == 2
    assert "Launching 4 jobs locally" in completed.stdout
    where = subprocess.run(
        [
            str(python),
            "-c",
            "import hydra_plugins.hydra_python_sweeper as p, hydra_python_sweeper as e; "
            "print(p.__file__); print(e.__file__)",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    ).stdout.split()
    assert len(where) == 2 and all(path.startswith(site) for path in where)
