"""How the sweepers scale: time to the first launch, total time and peak memory against N.

Each case runs ``bench/app.py`` in its own process with a launcher that runs nothing
(``bench/hydra_plugins/noop_launcher``), ``max_batch_size=1000`` and no validation
(BasicSweeper's is switched off by ``BENCH_NO_VALIDATE``, ours by its setting):

- ``basic``: Hydra's BasicSweeper over ``+a=range(0,10) +b=range(0,10) +c=range(0,N/100)``;
- ``python``: PythonSweeper over a generator entrypoint of the same N jobs, in the same
  order, ``keep_returns=false``; ``python+dedup`` adds ``remove_duplicates=true``.

    python bench/scaling.py             # N = 1e3 .. 1e6, 3 runs each, medians
    python bench/scaling.py --huge      # adds N = 1e7
    python bench/scaling.py --quick     # N = 1e3, 1e4, one run: a smoke test

``CPU s`` is the sweeper process's CPU time (user + system) without the part that is the
jobs': the journal lines the no-op launcher writes in their place (``jobs CPU s``, which in
a real sweep each job spends in its own process; BasicSweeper has no journal).

Prints one table, writes ``bench/results/scaling.csv`` and ``bench/results/scaling.png``
(``scaling-quick.*`` with ``--quick``).
"""

import argparse
import csv
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SWEEPERS = ("basic", "python", "python+dedup")


def command(sweeper: str, n: int, sweep_dir: str) -> List[str]:
    common = [sys.executable, str(HERE / "app.py"), "-m", f"hydra.sweep.dir={sweep_dir}"]
    if sweeper == "basic":
        return [
            *common,
            "hydra/sweeper=basic",
            "hydra.sweeper.max_batch_size=1000",
            "+a=range(0,10)",
            "+b=range(0,10)",
            f"+c=range(0,{n // 100})",
        ]
    return [
        *common,
        "hydra/sweeper=python",
        "hydra.sweeper.entrypoints=[bench_spaces.grid]",
        "hydra.sweeper.max_batch_size=1000",
        "hydra.sweeper.validate=false",
        "hydra.sweeper.keep_returns=false",
        f"hydra.sweeper.remove_duplicates={'true' if sweeper.endswith('dedup') else 'false'}",
    ]


def run_once(
    sweeper: str,
    n: int,
    sweep_dir: Optional[str] = None,
    extra: Sequence[str] = (),
    expect: Optional[int] = None,
) -> Dict[str, float]:
    """One case in its own process; ``expect``: the jobs it must launch (default ``n``)."""
    with tempfile.TemporaryDirectory() as tmp:
        stats_file = Path(tmp) / "stats.json"
        env = dict(
            os.environ,
            BENCH_N=str(n),
            BENCH_NO_VALIDATE="1",
            NOOP_LAUNCHER_JOURNAL="1",
            NOOP_LAUNCHER_STATS=str(stats_file),
            PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        )
        start = time.time()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        cmd = [*command(sweeper, n, sweep_dir or f"{tmp}/sweep"), *extra]
        subprocess.run(cmd, env=env, check=True, cwd=tmp)
        total = time.time() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        stats = json.loads(stats_file.read_text())
    if stats["jobs"] != (n if expect is None else expect):
        raise RuntimeError(f"{sweeper} launched {stats['jobs']} jobs, not {expect or n}")
    return {
        "first_launch_s": stats["first_launch"] - start,
        "total_s": total,
        "cpu_s": cpu - stats["jobs_cpu_s"],
        "jobs_cpu_s": stats["jobs_cpu_s"],
        "peak_rss_mib": stats["maxrss_kib"] / 1024,
        "us_per_job": total / n * 1e6,
    }


def measure(sweeper: str, n: int, repeat: int) -> Dict[str, float]:
    runs = [run_once(sweeper, n) for _ in range(repeat)]
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def plot(rows: List[Dict[str, object]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_mem, ax_time) = plt.subplots(1, 2, figsize=(11, 4.2))
    for sweeper in SWEEPERS:
        points = [r for r in rows if r["sweeper"] == sweeper]
        ns = [r["n"] for r in points]
        ax_mem.plot(ns, [r["peak_rss_mib"] for r in points], marker="o", label=sweeper)
        ax_time.plot(ns, [r["first_launch_s"] for r in points], marker="o", label=sweeper)
    for ax, title, unit in (
        (ax_mem, "Peak RSS", "MiB"),
        (ax_time, "Time from process start to first launch()", "seconds"),
    ):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("jobs in the sweep (N)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(
        f"max_batch_size=1000, no validation, no-op launcher ({platform.python_version()})"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--huge", action="store_true", help="also N = 1e7")
    parser.add_argument("--quick", action="store_true", help="N = 1e3 and 1e4, one run each")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (median)")
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args()

    sizes = [10**3, 10**4] if args.quick else [10**3, 10**4, 10**5, 10**6]
    if args.huge:
        sizes.append(10**7)
    repeat = 1 if args.quick else args.repeat
    rows: List[Dict[str, object]] = []
    print(
        f"{'sweeper':<14}{'N':>10}{'first launch s':>16}{'total s':>10}{'CPU s':>8}"
        f"{'jobs CPU s':>12}{'peak RSS MiB':>14}{'us/job':>9}",
        flush=True,
    )
    for n in sizes:
        for sweeper in SWEEPERS:
            if sweeper == "basic" and n > 10**6:
                continue  # builds every job up front: ~1.5 GB at 1e7
            result = measure(sweeper, n, repeat)
            rows.append({"sweeper": sweeper, "n": n, **result})
            print(
                f"{sweeper:<14}{n:>10.0e}{result['first_launch_s']:>16.3f}"
                f"{result['total_s']:>10.2f}{result['cpu_s']:>8.2f}{result['jobs_cpu_s']:>12.2f}"
                f"{result['peak_rss_mib']:>14.1f}{result['us_per_job']:>9.2f}",
                flush=True,
            )

    RESULTS.mkdir(exist_ok=True)
    name = "scaling-quick" if args.quick else "scaling"  # a smoke run keeps the real results
    with open(RESULTS / f"{name}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    if not args.no_plot:
        plot(rows, RESULTS / f"{name}.png")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
