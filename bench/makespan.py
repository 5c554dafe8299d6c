"""Makespan with a straggler-heavy sweep: batches in flight against batches in lockstep.

N jobs (200) whose durations are drawn, seeded, from a lognormal distribution (sigma 1, so
a few jobs take 10x the median), on P = 4 slots (joblib, ``n_jobs=4``; the jobs sleep, so
the slots are real even on 2 cores). The same jobs (``i=range(0,N)``) under:

- (a) ``basic``: BasicSweeper, ``max_batch_size=P``: each batch waits for its slowest job;
- (b) ``lockstep``: this sweeper, ``max_batch_size=P``, ``max_in_flight=1``: the same;
- (c) ``in-flight``: this sweeper, ``max_batch_size=1``, ``max_in_flight=P``: a queue of P
  slots, each refilled the moment its job ends.

Each job records when it started and ended; the makespan runs from the first start to the
last end (process start-up left out), and the slots' idle fraction is
``1 - total work / (P * makespan)``. The lower bound is ``max(total work / P, longest job)``.

    python bench/makespan.py            # N = 200, median 2 s: about 17 minutes
    python bench/makespan.py --median 0.5   # shorter jobs: Hydra's own cost per job shows
    python bench/makespan.py --quick    # N = 40, median 0.05 s: a smoke test

Each job also costs Hydra's own work around it (the launch, composing its config in the
worker, its output dir and files: about 0.2 s of a slot's time here), which no sweeper can
overlap; the longer the jobs, the less it shows.

Prints a table; writes ``bench/results/makespan-<median>s.txt`` and ``makespan.png`` (not
with --quick).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from makespan_app import durations  # noqa: E402

P = 4
CASES = {
    "(a) basic, max_batch_size=4": ["hydra/sweeper=basic", f"hydra.sweeper.max_batch_size={P}"],
    "(b) python, max_batch_size=4, max_in_flight=1": [
        "hydra/sweeper=python",
        f"hydra.sweeper.max_batch_size={P}",
    ],
    "(c) python, max_batch_size=1, max_in_flight=4": [
        "hydra/sweeper=python",
        "hydra.sweeper.max_batch_size=1",
        f"hydra.sweeper.max_in_flight={P}",
    ],
}


def run(case: List[str], n: int, median: float) -> List[Dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                str(HERE / "makespan_app.py"),
                "-m",
                f"hydra.sweep.dir={tmp}",
                f"hydra.launcher.n_jobs={P}",
                *case,
                f"i=range(0,{n})",
            ],
            env={**os.environ, "MAKESPAN_N": str(n), "MAKESPAN_MEDIAN": str(median)},
            check=True,
            capture_output=True,
        )
        times = [json.loads(p.read_text()) for p in Path(tmp).glob("*/times.json")]
    assert sorted(t["i"] for t in times) == list(range(n)), "every job ran once"
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 40, median 0.05 s")
    parser.add_argument("--median", type=float, default=2.0, help="the median job, seconds")
    args = parser.parse_args()
    n, median = (40, 0.05) if args.quick else (200, args.median)
    work = durations(n, median)
    bound = max(sum(work) / P, max(work))
    lines = [
        f"N = {n} jobs, P = {P} slots, durations lognormal (median {median} s, sigma 1): "
        f"total work {sum(work):.1f} s, longest job {max(work):.1f} s, "
        f"lower bound {bound:.1f} s",
        "",
        "| case | makespan (s) | / lower bound | idle slots |",
        "|---|---:|---:|---:|",
    ]
    print("\n".join(lines), flush=True)
    spans = {}
    for name, case in CASES.items():
        times = run(case, n, median)
        span = max(t["end"] for t in times) - min(t["start"] for t in times)
        ran = sum(t["end"] - t["start"] for t in times)
        spans[name] = span
        lines.append(f"| {name} | {span:.1f} | {span / bound:.2f} | {1 - ran / (P * span):.0%} |")
        print(lines[-1], flush=True)
    if not args.quick:
        (HERE / "results" / f"makespan-{median:g}s.txt").write_text("\n".join(lines) + "\n")
        plot(spans, bound)


def plot(spans: Dict[str, float], bound: float) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot")
        return
    fig, ax = plt.subplots(figsize=(7, 2.8))
    names = list(spans)
    ax.barh(names, [spans[k] for k in names], color=["#999", "#999", "#2a7"])
    ax.axvline(bound, color="k", linestyle="--")
    ax.text(bound, -0.6, f" lower bound {bound:.0f} s", va="bottom", ha="left", fontsize=9)
    ax.invert_yaxis()
    ax.set_ylim(len(names) - 0.5, -0.9)
    ax.set_xlabel("makespan (s), 200 jobs on 4 slots")
    fig.tight_layout()
    fig.savefig(HERE / "results" / "makespan.png", dpi=110)


if __name__ == "__main__":
    main()
