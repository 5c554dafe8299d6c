"""hydra-optuna-sweeper against ``hydra/sweeper=python_optuna``, side by side.

One search (bench/optuna_app/conf/optuna.yaml: the Hartmann 3-D function, TPE, 64 trials, 4 slots,
joblib with 4 workers, each job sleeping a duration drawn lognormal from its seed and job
number, the same for both sweepers), run by:

- ``hydra-optuna-sweeper``: hydra-optuna-sweeper 1.3.0 on Optuna 2.10.1 (the newest it
  takes) and Hydra 1.3, in a virtualenv of its own (``--theirs``: its python; made in
  ``bench/.venv-hydra-optuna-sweeper`` when missing). The config's sweeper line changed to
  ``hydra/sweeper: optuna``, nothing else;
- ``python_optuna``: this sweeper, in this environment.

For each of ``--seeds`` seeds (the sampler's and the durations'): the wall time from the
sweeper's start to the last trial's end; the slots' busy fraction, two ways: the jobs' own
time summed (from the task function's start to its end) over 4 slots times the span from
the first job's start to the last one's end, and the time a slot was held by a trial (from
the trial's launch, as the sweeper's log says, to its job's end: the launcher's and Hydra's
own work for the job included, the time a slot waited for the sweeper not) over 4 slots
times the span from the first launch (and, to set them against, the busy fraction of the
same jobs taken in order by the first free slot at no cost); and the best value reached.
Reports each as the median and the range over seeds, and the ratio of the walls, seed by
seed.

    python bench/optuna_bench.py          # 5 seeds, 64 trials: about 10 minutes
    python bench/optuna_bench.py --quick  # 2 seeds, 12 trials, short jobs: a smoke run

(Not ``bench/optuna.py``: the script's folder is first on ``sys.path``, and a module named
``optuna`` there would stand for Optuna.)

Writes ``bench/results/optuna.json`` and ``optuna.txt`` (not with --quick).
"""

import argparse
import heapq
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, List

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
THEIRS = HERE / ".venv-hydra-optuna-sweeper"
THEIR_PACKAGES = [
    "hydra-optuna-sweeper==1.3.0",
    "optuna==2.10.1",
    "hydra-core==1.3.2",
    "hydra-joblib-launcher==1.2.0",
]
SWEEPERS = {"hydra-optuna-sweeper": "optuna", "python_optuna": "python_optuna"}


def their_python(given: str) -> str:
    """hydra-optuna-sweeper's python: ``given``, or the bench's own virtualenv (made)."""
    if given:
        return given
    python = THEIRS / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(THEIRS)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *THEIR_PACKAGES], check=True
        )
    return str(python)


def config_dir(tmp: Path, sweeper: str) -> Path:
    """The bench's config, its sweeper line ``hydra/sweeper: <sweeper>``."""
    text = (HERE / "optuna_app" / "conf" / "optuna.yaml").read_text()
    line = "  - override hydra/sweeper: python_optuna\n"
    assert line in text
    folder = tmp / f"conf-{sweeper}"
    folder.mkdir()
    changed = text.replace(line, f"  - override hydra/sweeper: {sweeper}\n")
    (folder / "optuna.yaml").write_text(changed)
    return folder


def run(python: str, sweeper: str, seed: int, args: Any, tmp: Path) -> Dict[str, Any]:
    """One search: its wall, busy fraction, best value, from its jobs' ledger."""
    sweep_dir = tmp / f"{sweeper}-{seed}"
    ledger = tmp / f"{sweeper}-{seed}.jsonl"
    command = [
        python, str(HERE / "optuna_app" / "hartmann.py"), "-m",
        "-cp", str(tmp / f"conf-{SWEEPERS[sweeper]}"),
        f"hydra.sweep.dir={sweep_dir}",
        f"hydra.sweeper.sampler.seed={seed}",
        f"hydra.sweeper.n_trials={args.trials}",
        f"hydra.sweeper.n_jobs={args.slots}",
        f"hydra.launcher.n_jobs={args.slots}",
        f"seed={seed}", f"sigma={args.sigma}", f"scale={args.scale}", f"ledger={ledger}",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": ""}
    began = time.time()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp)
    if done.returncode != 0:
        raise SystemExit(f"{sweeper} (seed {seed}) failed:\n{done.stderr[-3000:]}")
    jobs = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert len(jobs) == args.trials, (sweeper, seed, len(jobs))
    first, last = min(j["start"] for j in jobs), max(j["end"] for j in jobs)
    busy = sum(j["end"] - j["start"] for j in jobs) / (args.slots * (last - first))
    launched = launches(done.stdout, sweeper, args.slots)
    lengths = [j["end"] - j["start"] for j in sorted(jobs, key=lambda j: j["num"])]
    held = sum(j["end"] - launched[j["num"]] for j in jobs)
    return {
        "sweeper": sweeper,
        "seed": seed,
        "wall_s": round(last - began, 3),
        "busy": round(busy, 4),
        "held": round(held / (args.slots * (last - min(launched.values()))), 4),
        "in_order": round(sum(lengths) / (args.slots * in_order(lengths, args.slots)), 4),
        # from a trial's launch to its task's start: the launcher's and Hydra's work a job
        "to_start_s": round(statistics.median(j["start"] - launched[j["num"]] for j in jobs), 3),
        "best": min(j["value"] for j in jobs),
        "jobs_s": round(sum(j["end"] - j["start"] for j in jobs), 3),
    }


def launches(log: str, sweeper: str, slots: int) -> Dict[int, float]:
    """When each job was handed to the launcher, from the sweeper's log: this sweeper logs
    each batch (``Batch 3 : jobs #2 to #2``); hydra-optuna-sweeper launches ``slots`` jobs
    at a time, each launch logged by joblib's launcher (``Launching jobs``)."""
    at: Dict[int, float] = {}
    count = 0
    for line in log.splitlines():
        stamp = re.match(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]\[HYDRA\] (.*)", line)
        if stamp is None:
            continue
        when = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        batch = re.match(r"Batch \d+ : jobs #(\d+) to #(\d+)", stamp.group(2))
        if sweeper == "python_optuna" and batch:
            at.update(dict.fromkeys(range(int(batch[1]), int(batch[2]) + 1), when))
        elif sweeper != "python_optuna" and stamp.group(2).startswith("Launching jobs"):
            at.update(dict.fromkeys(range(count, count + slots), when))
            count += slots
    return at


def in_order(lengths: List[float], slots: int) -> float:
    """The makespan of jobs of these ``lengths`` taken in order, each by the first slot
    free, at no cost: the best a scheduler that cannot know a job's length before it runs
    reaches (the drain at the end included).

    >>> in_order([3.0, 1.0, 1.0, 1.0], 2)
    3.0
    """
    free = [0.0] * slots
    for length in lengths:
        heapq.heapreplace(free, free[0] + length)
    return max(free)


def spread(values: List[float], digits: int = 2) -> str:
    return (
        f"{statistics.median(values):.{digits}f} "
        f"({min(values):.{digits}f} to {max(values):.{digits}f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--sigma", type=float, default=1.0)
    parser.add_argument("--scale", type=float, default=1.0, help="the durations' median, s")
    parser.add_argument("--theirs", default="", help="hydra-optuna-sweeper's python")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 12 trials, 0.05 s")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.trials, args.scale = 2, 12, 0.05
    pythons = {"hydra-optuna-sweeper": their_python(args.theirs), "python_optuna": sys.executable}
    rows: List[Dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for sweeper in set(SWEEPERS.values()):
            config_dir(tmp, sweeper)
        for seed in range(args.seeds):
            for label, python in pythons.items():  # alternated: a load hits both alike
                rows.append(run(python, label, seed, args, tmp))
                print(json.dumps(rows[-1]), flush=True)
    by = {label: [r for r in rows if r["sweeper"] == label] for label in pythons}
    ratios = [
        ours["wall_s"] / theirs["wall_s"]
        for ours, theirs in zip(by["python_optuna"], by["hydra-optuna-sweeper"])
    ]
    lines = [
        f"{args.trials} trials, {args.slots} slots, TPE, Hartmann 3-D, durations lognormal "
        f"(median {args.scale} s, sigma {args.sigma}), {args.seeds} seeds: median (range)",
        "",
        f"{'sweeper':<22} {'wall to last trial, s':<24} {'slots busy: jobs':<22} "
        f"{'held by a trial':<22} {'bound, in order':<22} best value",
    ]
    for label, runs in by.items():
        lines.append(
            f"{label:<22} {spread([r['wall_s'] for r in runs], 1):<24} "
            f"{spread([100 * r['busy'] for r in runs], 1) + ' %':<22} "
            f"{spread([100 * r['held'] for r in runs], 1) + ' %':<22} "
            f"{spread([100 * r['in_order'] for r in runs], 1) + ' %':<22} "
            f"{spread([r['best'] for r in runs], 3)}"
        )
    lines += [
        "",
        f"wall, python_optuna / hydra-optuna-sweeper, seed by seed: {spread(ratios)}",
        "a job's launch to its task's start (the launcher's and Hydra's work), median of "
        + ", ".join(
            f"{label}: {spread([r['to_start_s'] for r in runs])} s" for label, runs in by.items()
        ),
        f"{len(os.sched_getaffinity(0))} CPUs, Python {platform.python_version()}; "
        "hydra-optuna-sweeper 1.3.0, Optuna 2.10.1, Hydra 1.3.2 against this sweeper, "
        f"Optuna {_optuna_version()}",
    ]
    print("\n".join(lines))
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "optuna.json").write_text(json.dumps(rows, indent=1) + "\n")
        (RESULTS / "optuna.txt").write_text("\n".join(lines) + "\n")


def _optuna_version() -> str:
    from importlib.metadata import version

    return version("optuna")


if __name__ == "__main__":
    main()
