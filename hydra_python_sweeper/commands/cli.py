"""The sweeper's commands: ``status`` of a sweep, ``cancel`` of a sweep, its results as a table.

    python -m hydra_plugins.hydra_python_sweeper status <sweep dir> [--json] [--watch [S]]
                                                     [--results results.csv] [--plot sweep.png]
    python -m hydra_plugins.hydra_python_sweeper cancel <sweep dir>
    python -m hydra_plugins.hydra_python_sweeper results <sweep dir> [-o results.csv|.parquet]
                                                      [--best N [--highest]]
    python -m hydra_plugins.hydra_python_sweeper report <sweep dir> [-o report.html]
                                                     [--highest] [--rung KEY]

(also as the ``hydra-python-sweeper`` command)::

    >>> main(["status", "/nowhere"])
    error: there is no journal in /nowhere (/nowhere/journal.jsonl is not a file)
    1
"""

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hydra-python-sweeper", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    status = commands.add_parser("status", help="where a sweep stands, from its journal")
    status.add_argument("sweep_dir", type=Path)
    status.add_argument("--json", action="store_true", help="as JSON, for scripts")
    status.add_argument(
        "--watch", nargs="?", type=float, const=5.0, metavar="SECONDS",
        help="refresh in place every SECONDS (5 by default) until Ctrl-C",
    )  # fmt: skip
    status.add_argument(
        "--results", type=Path, help="write one row a job to this CSV (or .parquet) file"
    )
    status.add_argument("--plot", type=Path, help="draw the sweep over time into this image")
    cancel = commands.add_parser("cancel", help="stop a sweep and the jobs it knows of")
    cancel.add_argument("sweep_dir", type=Path)
    results = commands.add_parser(
        "results", help="one row a job (CSV on standard output), or the best jobs"
    )
    results.add_argument("sweep_dir", type=Path)
    results.add_argument(
        "-o", "--output", type=Path, default=Path("-"),
        help="write to this CSV (or .parquet) file instead of standard output",
    )  # fmt: skip
    results.add_argument(
        "--best", type=int, metavar="N",
        help="only the N completed jobs that returned the lowest numbers, best first",
    )  # fmt: skip
    results.add_argument(
        "--highest", action="store_true", help="with --best: the highest numbers are best"
    )
    report = commands.add_parser(
        "report", help="one HTML page (self-contained, offline) that shows the sweep"
    )
    report.add_argument("sweep_dir", type=Path)
    report.add_argument(
        "-o", "--output", type=Path, help="the page to write (report.html in the sweep dir)"
    )
    report.add_argument(
        "--highest", action="store_true", help="the highest returns are best (the lowest are)"
    )
    report.add_argument(
        "--rung", default="epochs", metavar="KEY",
        help="an adaptive sweep's budget parameter, whose values are its rungs (epochs)",
    )  # fmt: skip
    arguments = parser.parse_args(argv)

    from hydra_python_sweeper.errors import JournalError, SettingError

    try:
        if arguments.command == "cancel":
            from hydra_python_sweeper.commands.cancel import cancel_sweep

            print(cancel_sweep(arguments.sweep_dir))
            return 0
        if arguments.command == "report":
            return _report(arguments)
        if arguments.command == "results":
            return _results(arguments.sweep_dir, arguments.output, arguments.best, arguments)
        return _status(arguments)
    except (JournalError, SettingError) as error:
        print(f"error: {error}", file=sys.stderr if argv is None else sys.stdout)
        return 1
    except BrokenPipeError:  # its reader stopped reading (``| head``): as other commands do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 0


def _status(arguments: argparse.Namespace) -> int:
    from hydra_python_sweeper.commands.status import as_json, render, sweep_status

    if arguments.plot is not None:
        from hydra_python_sweeper.commands.plot import plot

        print(f"{plot(arguments.sweep_dir, arguments.plot)} jobs drawn in {arguments.plot}")
        return 0
    if arguments.results is not None:
        return _results(arguments.sweep_dir, arguments.results, None, arguments)
    try:
        while True:
            status = sweep_status(arguments.sweep_dir)
            text = as_json(status) if arguments.json else render(status)
            if arguments.watch is None:
                print(text)
                return 0
            print("\x1b[H\x1b[2J" + text, flush=True)  # in place: home, clear
            time.sleep(arguments.watch)
    except KeyboardInterrupt:  # Ctrl-C ends the watch
        return 0


def _report(arguments: argparse.Namespace) -> int:
    from hydra_python_sweeper.commands.report.page import write_report

    tic = time.perf_counter()
    target, status = write_report(
        arguments.sweep_dir, arguments.output, arguments.highest, arguments.rung
    )
    size = target.stat().st_size / 1e6
    jobs = status.completed + status.failed + status.running + len(status.stopped)
    print(f"Report of {jobs} jobs written to {target} ({size:.1f} MB, "
          f"{time.perf_counter() - tic:.1f} s)")  # fmt: skip
    return 0


def _results(sweep_dir: Path, output: Path, count: Optional[int], arguments: Any) -> int:
    from hydra_python_sweeper.commands.table import best, write_table

    if count is not None:
        highest = bool(getattr(arguments, "highest", False))
        jobs = best(sweep_dir, count, highest)
        if not jobs:
            print("No completed job returned a number")
            return 0
        print(f"The {len(jobs)} best jobs ({'highest' if highest else 'lowest'} returns):")
        for record in jobs:
            overrides = " ".join(f"{k}={v}" for k, v in record.overrides.items())
            print(f"  #{record.number}  {record.returned!r}  {overrides}  ({record.dir})")
        return 0
    rows = write_table(sweep_dir, output)
    told = sys.stderr if str(output) == "-" else sys.stdout  # the table has stdout
    print(
        f"{rows} jobs written to {'standard output' if str(output) == '-' else output}", file=told
    )
    return 0
