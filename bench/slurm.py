"""SLURM, measured on a real cluster (tests/slurm/start-slurm.sh): what the sweeper's own
process costs per job, what it writes per job, and how busy the cluster's slots stay.

    python bench/slurm.py                       # 300 and 1,000 jobs, and the slots' use
    python bench/slurm.py --jobs 300 --no-slots
    python bench/slurm.py --packed-only --jobs 10000 100000   # packed sweeps alone

For each size, one sweep with this sweeper and one with Hydra's BasicSweeper, both through
hydra-submitit-launcher's ``submitit_slurm`` with batches of 250 jobs: the CPU time of the
process that sweeps (the login node's: user + system, its children ``sbatch``/``squeue``
included; the jobs run under ``slurmd``), and the files each leaves in the sweep dir
(``.submitit/``, ``.hydra/``, the rest). Then the slots: 48 jobs of uneven length (2 to 20 s)
on 6 slots (three nodes of 8 CPUs, 4 CPUs a task), with ``max_in_flight`` 1 and 3: the
fraction of slot-time the jobs used, from the jobs' own start and end times.

Packed (``hydra.sweeper.jobs_per_task``): the same sweeps with 100 jobs a task, each job as
lean as Hydra allows (``hydra.output_subdir=null``, ``hydra/job_logging=disabled``, one shared
``hydra.sweep.subdir``), in batches of 5,000 (50 tasks an array), two in flight, at the
default ``poll_interval``; and the uneven jobs of
the slots packed 8 a task in one batch. Each row also has the sweeping process's peak RSS.
"""

import argparse
import heapq
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

HERE = Path(__file__).resolve().parent
APP = HERE.parent / "tests" / "apps" / "ledger.py"
RESULTS = HERE / "results"


def run(sweep_dir: Path, *arguments: str) -> Dict[str, Any]:
    """One sweep; the sweeping process's CPU seconds, wall time and peak RSS (MiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    tic = time.perf_counter()
    peak = sweep_dir.parent / f"{sweep_dir.name}.rss"
    done = subprocess.run(
        [
            *("/usr/bin/time", "-f", "%M", "-o", str(peak)),  # GNU time: the sweeper's peak
            *(sys.executable, str(APP), "-m", f"hydra.sweep.dir={sweep_dir}", *arguments),
        ],
        capture_output=True,
        text=True,
        cwd=sweep_dir.parent,
    )
    wall = time.perf_counter() - tic
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"the sweep failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rss = int(peak.read_text().split()[-1]) / 1024
    return {"cpu": cpu, "wall": wall, "rss_mib": round(rss, 1)}


def files(sweep_dir: Path) -> Dict[str, int]:
    """Inodes (files and folders) in the sweep dir at the sweep's end, by where: submitit's
    folder, Hydra's .hydra dirs, the rest."""
    counts = {"submitit": 0, "hydra": 0, "other": 0}
    for _, dirs, names in os.walk(sweep_dir / ".submitit"):
        counts["submitit"] += len(dirs) + len(names)
    for root, dirs, names in os.walk(sweep_dir):
        if ".submitit" in dirs:
            dirs.remove(".submitit")
            counts["submitit"] += 1
        kind = "hydra" if Path(root).name == ".hydra" else "other"
        counts[kind] += len(dirs) + len(names)
    return counts


#: A job as lean as Hydra allows: no .hydra/ files, no job log, one shared output dir.
LEAN = ["hydra.output_subdir=null", "hydra/job_logging=disabled", "hydra.sweep.subdir=jobs"]
PER_TASK = 100


def cost(jobs: int, workdir: Path, packed_only: bool = False) -> List[Dict[str, Any]]:
    rows = []
    entrypoint = f"hydra.sweeper.entrypoints=[{{_target_: launched_spaces.numbered, n: {jobs}}}]"
    variants = [
        ("python", [entrypoint, "hydra.sweeper.max_batch_size=250"]),
        ("basic", ["hydra/sweeper=basic", f"+x=range(0,{jobs})", "+name=job",
                   "hydra.sweeper.max_batch_size=250"]),
    ]  # fmt: skip
    batch = min(jobs, PER_TASK * 50)  # 50 tasks an array: two in flight from 10,000 jobs on
    packed = [
        entrypoint,
        f"hydra.sweeper.max_batch_size={batch}",
        f"hydra.sweeper.jobs_per_task={PER_TASK}",
        "hydra.sweeper.max_in_flight=2",
        "hydra.sweeper.keep_returns=false",
        *LEAN,
    ]
    variants = [("python-packed", packed)] + ([] if packed_only else variants)
    for sweeper, arguments in variants:
        sweep_dir = workdir / f"{sweeper}-{jobs}"
        measured = run(sweep_dir, *arguments)
        written = files(sweep_dir)
        rows.append(
            {
                "sweeper": sweeper,
                "jobs": jobs,
                "cpu_s": round(measured["cpu"], 2),
                "cpu_ms_per_job": round(1000 * measured["cpu"] / jobs, 3),
                "wall_s": round(measured["wall"], 1),
                "jobs_per_s": round(jobs / measured["wall"], 1),
                "peak_rss_mib": measured["rss_mib"],
                "inodes_per_job": {k: round(v / jobs, 4) for k, v in written.items()},
            }
        )
        print(json.dumps(rows[-1]), flush=True)
        shutil.rmtree(sweep_dir)
    return rows


def slots(
    workdir: Path, in_flight: int, lengths: List[float], packed: bool = False
) -> Dict[str, Any]:
    """Uneven jobs on 6 slots: the fraction of slot-time used between the first start and
    the last end. Packed: one batch of 6 tasks, each taking the next job as it frees up."""
    sweep_dir = workdir / f"slots-{in_flight}-{packed}"
    lengths_arg = "[" + ",".join(f"{x:.2f}" for x in lengths) + "]"
    per_task = -(-len(lengths) // 6)
    batching = ["hydra.sweeper.max_batch_size=6"]
    if packed:
        batching = [
            f"hydra.sweeper.max_batch_size={len(lengths)}",
            f"hydra.sweeper.jobs_per_task={per_task}",
        ]
    run(
        sweep_dir,
        f"hydra.sweeper.entrypoints=[{{_target_: launched_spaces.numbered, n: {len(lengths)}}}]",
        *batching,
        f"hydra.sweeper.max_in_flight={in_flight}",
        "hydra.launcher.cpus_per_task=4",
        f"+lengths={lengths_arg}",
    )
    records = [json.loads(line) for line in (sweep_dir / "ledger.jsonl").read_text().splitlines()]
    starts = {r["num"]: r["time"] for r in records if r["event"] == "start"}
    ends = {r["num"]: r["time"] for r in records if r["event"] == "end"}
    busy = sum(ends[n] - starts[n] for n in ends)
    span = max(ends.values()) - min(starts.values())
    shutil.rmtree(sweep_dir)
    greedy = in_order(lengths, 6)
    return {
        "packed": packed,
        "max_in_flight": in_flight,
        "jobs": len(lengths),
        "slots": 6,
        "makespan_s": round(span, 1),
        "lower_bound_s": round(max(sum(lengths) / 6, max(lengths)), 1),
        "busy_fraction": round(busy / (6 * span), 2),
        # the jobs taken in order, each by the first slot to free up, at no cost: the best
        # a scheduler that cannot know a job's length before it ends does with this order
        "in_order_makespan_s": round(greedy, 1),
        "busy_fraction_in_order": round(sum(lengths) / (6 * greedy), 2),
    }


def in_order(lengths: List[float], slots: int) -> float:
    """The makespan of jobs taken in order, each by the first slot to free up, at no cost.

    >>> in_order([3.0, 1.0, 1.0, 1.0], 2)
    3.0
    >>> in_order([1.0, 1.0, 3.0], 2)
    4.0
    """
    free = [0.0] * slots
    for length in lengths:
        heapq.heappush(free, heapq.heappop(free) + length)
    return max(free)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, nargs="*", default=[300, 1000])
    parser.add_argument("--no-slots", action="store_true")
    parser.add_argument("--packed-only", action="store_true", help="only the packed sweeps")
    parser.add_argument("--out", default="slurm.json", help="file name under bench/results")
    options = parser.parse_args()
    results: Dict[str, Any] = {"cost": [], "slots": []}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for jobs in options.jobs:
            results["cost"] += cost(jobs, workdir, options.packed_only)
        if not options.no_slots:
            rng = random.Random(0)
            lengths = [min(20.0, max(2.0, rng.lognormvariate(1.5, 0.7))) for _ in range(48)]
            runs = [(1, True)] + ([] if options.packed_only else [(1, False), (3, False)])
            for in_flight, packed in runs:
                results["slots"].append(slots(workdir, in_flight, lengths, packed))
                print(json.dumps(results["slots"][-1]), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / options.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
