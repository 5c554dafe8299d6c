"""How fast ``status`` and ``read_results`` read a big journal, and in how much memory.

Writes a journal as a sweep of N jobs leaves it (a run line, a start and an end line a job,
three overrides each, 1% of the jobs failed with one of three errors, the last 100 running),
then, each in a process of its own: ``python -m hydra_plugins.hydra_python_sweeper status``,
and ``read_results`` consumed to the end. Reports wall time and peak RSS (``VmHWM``; for
the status, of the largest of its processes: it reads a big journal with one process a CPU)
and the CPUs.

    python bench/status.py                 # N = 100,000 and 1,000,000
    python bench/status.py --n 1000000
    python bench/status.py --quick         # 2,000 jobs, a smoke run (CI's)
"""

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Tuple

from hydra_python_sweeper.journal.lines import encode, job_line, started_line

RESULTS = Path(__file__).resolve().parent / "results"
ERRORS = ["RuntimeError('CUDA out of memory')", "ValueError('nan loss')", "TimeoutError()"]


def write_journal(path: Path, n: int) -> None:
    t0 = time.time() - 86_400.0  # a day ago
    with open(path, "wb") as f:
        f.write(encode({"run": 1, "total": n, "at": t0, "argv": ["train.py", "-m"]}))
        chunk: List[bytes] = []
        for number in range(n):
            overrides = [f"+lr={10 ** -(number % 5)}", f"+seed={number}", "db=mysql"]
            started = started_line(number, overrides)
            started["at"] = t0 + number * 0.01
            chunk.append(encode(started))
            if number < n - 100:
                failed = number % 100 == 7
                returned = ERRORS[number % 3] if failed else round(0.5 + number % 997 / 1e3, 3)
                ended = job_line(number, overrides, not failed, returned, f"out/{number}")
                ended["started"], ended["ended"] = started["at"], started["at"] + 30
                chunk.append(encode(ended))
            if len(chunk) > 20_000:
                f.write(b"".join(chunk))
                chunk = []
        f.write(b"".join(chunk))


STATUS = "from hydra_python_sweeper.commands.cli import main; main(['status', {d!r}])"
RESULTS_LOOP = (
    "from hydra_plugins.hydra_python_sweeper.utils import read_results\n"
    "count = sum(1 for _ in read_results({d!r})); print(count)"
)
PEAK = (
    "\nimport resource"
    "\nprint('VmHWM', open('/proc/self/status').read().split('VmHWM:')[1].split()[0])"
    "\nprint('Children', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def measure(code: str) -> Tuple[float, float, str]:
    """Wall seconds and peak RSS (MiB) of ``python -c code`` (of the process or of any
    process it started, whichever is more: the status reads a big journal with one
    process a CPU), and its output."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code + PEAK], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(done.stderr)
    peak = int(done.stdout.rsplit("VmHWM", 1)[1].split()[0]) / 1024
    child = int(done.stdout.rsplit("Children", 1)[1].split()[0]) / 1024
    return seconds, max(peak, child), done.stdout


def median(code: str, runs: int = 3) -> Tuple[float, float, str]:
    """:func:`measure` of ``code``, run ``runs`` times: the median run (by its time)."""
    return sorted(measure(code) for _ in range(runs))[runs // 2]


def footer() -> str:
    """What the medians were taken on."""
    cpus = len(os.sched_getaffinity(0))
    return f"the median of 3 runs; {cpus} CPUs, {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--quick", action="store_true", help="2,000 jobs; no results file")
    args = parser.parse_args()
    if args.quick:
        args.n = [2_000]
    rows = ["jobs       journal MiB  status s  status RSS MiB  read_results s  results RSS MiB"]
    for n in args.n:
        with tempfile.TemporaryDirectory() as tmp:
            write_journal(Path(tmp) / "journal.jsonl", n)
            size = os.path.getsize(Path(tmp) / "journal.jsonl") / 2**20
            status = median(STATUS.format(d=tmp))
            assert f"Jobs: {n - 100 - (n - 100 + 92) // 100}" in status[2], status[2][:500]
            results = measure(RESULTS_LOOP.format(d=tmp))
            assert results[2].split()[0] == str(n)
        rows.append(
            f"{n:<10} {size:>11.1f}  {status[0]:>8.2f}  {status[1]:>14.1f}  "
            f"{results[0]:>14.2f}  {results[1]:>15.1f}"
        )
        print(rows[-1], flush=True)
    rows.append(f"(status: {footer()})")
    print(rows[-1])
    if not args.quick:
        (RESULTS / "status.txt").write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
