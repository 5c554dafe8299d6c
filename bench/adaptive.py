"""An adaptive search against a full grid (and Optuna, where it installs), on P = 4 slots.

The example's simulated objective (example/objective.py: job time proportional to its epochs,
``time_per_epoch`` seconds each, seeded noise), through joblib with ``n_jobs=4``:

- ``asha``: example/config/adaptive.py's asynchronous successive halving, 60 jobs of 1, 3
  or 9 epochs, ``max_batch_size=1 max_in_flight=4``: each result steers the next job;
- ``grid``: every (lr, layers) of a 9 x 4 grid at 9 epochs, the same batches in flight;
- ``optuna``: hydra-optuna-sweeper (TPE, ``n_jobs=4``: batches of 4 in lockstep), 15 trials
  at 9 epochs, about ASHA's compute; only if it is installed. (Here, pip resolves
  hydra-optuna-sweeper 1.3.0 with optuna 2.10.1 and hydra-core 1.4.0rc3, and that sweeper
  stops on its own config: ``Key 'infer_relative_search_space' not in 'SamplerConfig'``; so
  the committed results have no optuna row.)

For each: the best loss found, the wall time (from the first job's start) until a job first
reached the target, the sweep's wall time and its compute (the jobs' time summed). The
target is the worst of the best losses, so that every method reaches it.

    python bench/adaptive.py            # time_per_epoch 0.2 s: about three minutes
    python bench/adaptive.py --quick    # time_per_epoch 0.01 s: a smoke test

Prints a table; writes ``bench/results/adaptive.txt`` (not with --quick).
"""

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

HERE = Path(__file__).resolve().parent
LRS = ",".join(f"{10 ** (-4 + 3 * i / 8):.6g}" for i in range(9))

CASES = {
    "asha": [
        "hydra/sweeper=python",
        "hydra.sweeper.max_batch_size=1",
        "hydra.sweeper.max_in_flight=4",
        "hydra.sweeper.entrypoints=[{_target_: config.adaptive.asha, budget: 60}]",
    ],
    "grid": [
        "hydra/sweeper=python",
        "hydra.sweeper.max_batch_size=1",
        "hydra.sweeper.max_in_flight=4",
        f"lr={LRS}",
        "num_layers=1,2,3,4",
    ],
    "optuna": [
        "hydra/sweeper=optuna",
        "hydra.sweeper.n_trials=15",
        "hydra.sweeper.n_jobs=4",
        "hydra.sweeper.direction=minimize",
        "hydra.sweeper.sampler.seed=0",
        "lr=tag(log,interval(0.0001,0.1))",
        "num_layers=range(1,5)",
    ],
}


def run(case: List[str], time_per_epoch: float) -> List[Dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                str(HERE / "adaptive_app.py"),
                "-m",
                f"hydra.sweep.dir={tmp}",
                "hydra/launcher=joblib",
                "hydra.launcher.n_jobs=4",
                "hydra/hydra_logging=disabled",
                "hydra/job_logging=disabled",
                f"time_per_epoch={time_per_epoch}",
                *case,
            ],
            check=True,
            capture_output=True,
        )
        return [json.loads(p.read_text()) for p in Path(tmp).glob("*/times.json")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="time_per_epoch 0.01 s")
    args = parser.parse_args()
    time_per_epoch = 0.01 if args.quick else 0.2
    cases = dict(CASES)
    if importlib.util.find_spec("hydra_plugins.hydra_optuna_sweeper") is None:
        del cases["optuna"]
    runs = {name: run(case, time_per_epoch) for name, case in cases.items()}
    target = max(min(job["loss"] for job in jobs) for jobs in runs.values())
    lines = [
        f"P = 4 slots, {time_per_epoch} s an epoch; target loss {target:.4f} (the worst of the "
        "best losses)",
        "",
        "| method | jobs | best loss | time to the target (s) | sweep (s) | compute (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, jobs in runs.items():
        first = min(job["start"] for job in jobs)
        reached = min(job["end"] for job in jobs if job["loss"] <= target) - first
        span = max(job["end"] for job in jobs) - first
        compute = sum(job["end"] - job["start"] for job in jobs)
        best = min(job["loss"] for job in jobs)
        lines.append(
            f"| {name} | {len(jobs)} | {best:.4f} | {reached:.1f} | {span:.1f} | {compute:.1f} |"
        )
    if "optuna" not in cases:
        lines.append("")
        lines.append("(hydra-optuna-sweeper is not installed: no optuna row)")
    print("\n".join(lines))
    if not args.quick:
        (HERE / "results" / "adaptive.txt").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
