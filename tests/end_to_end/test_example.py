"""The README's three transcripts, reproduced by ``example/train.py``."""

import itertools
import re
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import pytest
import yaml

EXAMPLE = Path(__file__).resolve().parents[2] / "example" / "train.py"

MULTILAYER_LINES = [
    f"num_layers={n} num_hidden=[" + ", ".join(map(str, h)) + "]"
    for n in range(1, 4)
    for h in itertools.product((32, 64), repeat=n)
]


def multirun(tmp_path: Path, *arguments: str) -> Tuple[str, List[Tuple[int, str]], List[dict]]:
    """Run the example; its log, its ``(job number, overrides)`` lines, its printed configs."""
    completed = subprocess.run(
        [
            sys.executable,
            str(EXAMPLE),
            "--config-name",
            "multilayer",
            "-m",
            f"hydra.sweep.dir={tmp_path}",
            *arguments,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    out = completed.stdout
    jobs = [(int(n), line) for n, line in re.findall(r"\t#(\d+) : (.*)", out)]
    configs = [yaml.safe_load(chunk) for chunk in re.split(r"\[[^\n]*\]\[HYDRA\][^\n]*\n", out)]
    return out, jobs, [c for c in configs if isinstance(c, dict)]


def expected_configs(lines: List[str], extra: dict) -> List[dict]:
    configs = []
    for line in lines:
        layers, hidden = re.fullmatch(r".*num_layers=(\d) num_hidden=\[(.*)\]", line).groups()
        configs.append(
            {"num_layers": int(layers), "num_hidden": [int(h) for h in hidden.split(", ")], **extra}
        )
    return configs


def test_transcript_entrypoint_alone(tmp_path: Path) -> None:
    out, jobs, configs = multirun(tmp_path)
    assert (
        "PythonSweeper(max_batch_size=None, entrypoints=['config.multilayer.configure']) sweeping"
        in out
    )
    assert f"Sweep output dir : {tmp_path}" in out
    assert "Launching 14 jobs locally" in out
    assert jobs == list(enumerate(MULTILAYER_LINES))
    assert configs == expected_configs(MULTILAYER_LINES, {})


def test_transcript_combined_with_the_command_line(tmp_path: Path) -> None:
    out, jobs, configs = multirun(tmp_path, "+activation=relu,tanh")
    assert "Launching 28 jobs locally" in out
    lines = [f"+activation={a} {line}" for a in ("relu", "tanh") for line in MULTILAYER_LINES]
    assert jobs == list(enumerate(lines))
    assert configs == [
        {**c, "activation": a}
        for a in ("relu", "tanh")
        for c in expected_configs(MULTILAYER_LINES, {})
    ]


def test_transcript_remove_duplicates(tmp_path: Path) -> None:
    out, jobs, configs = multirun(
        tmp_path, "+activation=relu,relu", "hydra.sweeper.remove_duplicates=true"
    )
    assert "Launching 14 jobs locally" in out
    assert jobs == [(i, f"+activation=relu {line}") for i, line in enumerate(MULTILAYER_LINES)]
    assert configs == expected_configs(MULTILAYER_LINES, {"activation": "relu"})


def test_sub_space_example_with_batches(tmp_path: Path) -> None:
    out, jobs, configs = multirun(
        tmp_path,
        "hydra.sweeper.entrypoints=[config.multilayer.configure_with_optimizer]",
        "hydra.sweeper.max_batch_size=10",
    )
    assert [n for n, _ in jobs] == list(range(42))
    assert out.count("Launching 10 jobs locally") == 4 and "Launching 2 jobs locally" in out
    assert "Batch 5 : jobs #40 to #41" in out
    assert jobs[1][1] == "num_layers=1 num_hidden=[32] +optimizer={name: adam, lr: 0.0001}"
    assert configs[2]["optimizer"] == {"name": "sgd", "lr": 0.01, "momentum": 0.9}
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == sorted(map(str, range(42)))


@pytest.mark.parametrize(
    "arguments, message",
    [
        (
            ["hydra.sweeper.entrypoints=[config.multilayer.nope]"],
            "entrypoint 'config.multilayer.nope' could not be loaded: 'config.multilayer' has no "
            "attribute 'nope'\n",
        ),
        (
            ["hydra.sweeper.max_batch_size=0"],
            "hydra.sweeper.max_batch_size=0: expected a positive integer, "
            "or null or -1 for a single batch\n",
        ),
    ],
)
def test_errors_print_one_line_without_traceback(
    tmp_path: Path, arguments: List[str], message: str
) -> None:
    completed = subprocess.run(
        [sys.executable, str(EXAMPLE), "-m", f"hydra.sweep.dir={tmp_path}/sweep", *arguments],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert completed.returncode == 1
    # the message, alone on its last lines (Hydra 1.3 adds a hint after it, Hydra 1.4 may
    # print a deprecation warning before it)
    hint = "\nSet the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.\n"
    stderr = completed.stderr.replace(hint, "")
    assert stderr.endswith(message) and stderr[: -len(message)][-1:] in ("", "\n")
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "sweep" / "0").exists()


@pytest.mark.parametrize(
    "arguments, summary",
    [
        (
            ["hydra.sweeper.filters=[config.multilayer.no_wide_deep_nets]"],
            "13 jobs in 1 batch (1 dropped by filters)",
        ),
        (
            ["hydra.sweeper.entrypoints=[{_target_: config.multilayer.layers, max_layers: 2}]"],
            "6 jobs in 1 batch",
        ),
        (
            [
                "hydra.sweeper.max_batch_size=4",
                "hydra.sweeper.num_shards=2",
                "hydra.sweeper.shard_index=1",
            ],
            "6 jobs in 2 batches (shard index 1 of 2 shards)",
        ),
    ],
)
def test_dry_runs_of_the_example(tmp_path: Path, arguments: List[str], summary: str) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            str(EXAMPLE),
            "-m",
            f"hydra.sweep.dir={tmp_path}/sweep",
            "hydra.sweeper.dry_run=true",
            *arguments,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert completed.stdout.rstrip().endswith(f"Dry run: {summary}")
    assert not (tmp_path / "sweep").exists()


def test_the_slurm_example_composes_with_the_submitit_slurm_launcher(tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    completed = subprocess.run(
        [
            sys.executable,
            str(EXAMPLE),
            "--config-name",
            "slurm",
            "--cfg",
            "hydra",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    hydra_cfg = yaml.safe_load(completed.stdout)["hydra"]
    assert hydra_cfg["launcher"]["_target_"].endswith("SlurmLauncher")
    assert hydra_cfg["launcher"]["array_parallelism"] == 256
    sweeper = hydra_cfg["sweeper"]
    assert (
        sweeper["max_batch_size"],
        sweeper["max_in_flight"],
        sweeper["keep_returns"],
        sweeper["validate"],
    ) == (1000, 4, False, True)
    assert sweeper["entrypoints"] == ["config.multilayer.configure"]
