"""How long the ``report`` command takes, in how much memory, and how big a page it writes.

Writes a journal as a sweep of N jobs leaves it (:func:`status.write_journal`: a start and
an end line a job, three overrides, 1% failed, the last 100 running), then runs
``python -m hydra_plugins.hydra_python_sweeper report`` on it three times, each in a process
of its own: the median wall time, the peak RSS (of the largest of its processes: its status
reads a big journal with one process a CPU) and the page's size. Beside it, the ``status``
of the same journal, the first of the report's two passes.

    python bench/report.py                 # N = 10,000 and 1,000,000
    python bench/report.py --quick         # 2,000 jobs, a smoke run (CI's)
"""

import argparse
import os
import tempfile
from pathlib import Path

from status import RESULTS, STATUS, footer, median, write_journal

REPORT = "from hydra_python_sweeper.commands.cli import main; main(['report', {d!r}])"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="*", default=[10_000, 1_000_000])
    parser.add_argument("--quick", action="store_true", help="2,000 jobs; no results file")
    args = parser.parse_args()
    if args.quick:
        args.n = [2_000]
    rows = ["jobs       journal MiB  report s  report RSS MiB  page MB  status s"]
    for n in args.n:
        with tempfile.TemporaryDirectory() as tmp:
            write_journal(Path(tmp) / "journal.jsonl", n)
            size = os.path.getsize(Path(tmp) / "journal.jsonl") / 2**20
            report = median(REPORT.format(d=tmp))
            assert f"Report of {n} jobs written" in report[2], report[2][:500]
            page = os.path.getsize(Path(tmp) / "report.html") / 1e6
            status = median(STATUS.format(d=tmp))
        rows.append(
            f"{n:<10} {size:>11.1f}  {report[0]:>8.2f}  {report[1]:>14.1f}  {page:>7.1f}  "
            f"{status[0]:>8.2f}"
        )
        print(rows[-1], flush=True)
    rows.append(f"({footer()})")
    print(rows[-1])
    if not args.quick:
        (RESULTS / "report.txt").write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
