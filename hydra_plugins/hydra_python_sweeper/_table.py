"""A sweep's results as a table: one row a job, one column an override key.

:func:`write_csv` reads the journal's records twice (:func:`._records.read_results`, which
streams them): once for the keys the jobs set, in the order they first appear, then for the
rows, so that even a million-job sweep is written in flat memory.

    >>> import tempfile
    >>> from ._lines import job_line
    >>> from ._writer import append
    >>> sweep_dir = Path(tempfile.mkdtemp())
    >>> append(sweep_dir / "journal.jsonl", job_line(0, ["+lr=0.1"], True, 0.9, "out/0"))
    >>> write_csv(sweep_dir, sweep_dir / "results.csv")
    1
    >>> (sweep_dir / "results.csv").read_text().splitlines()[0]
    'number,status,lr,returned,dir,started,ended,host'
"""

import csv
import json
from pathlib import Path
from typing import Any, Dict, List

from ._records import read_results


def write_csv(sweep_dir: Path, target: Path) -> int:
    """Write the sweep's results to the CSV file ``target``; the number of rows."""
    keys: Dict[str, None] = {}
    for record in read_results(sweep_dir):
        keys.update(dict.fromkeys(record.overrides))
    columns: List[str] = ["number", "status", *keys, "returned", "dir", "started", "ended", "host"]
    rows = 0
    with open(target, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for record in read_results(sweep_dir):
            values = [record.overrides.get(key, "") for key in keys]
            writer.writerow(
                [record.number, record.status, *map(_cell, values), _cell(record.returned),
                 record.dir, record.started, record.ended, record.host]
            )  # fmt: skip
            rows += 1
    return rows


def _cell(value: Any) -> Any:
    """A value as a CSV cell: numbers and strings as they are, others as JSON."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    return json.dumps(value)
