"""A sweep's results as a table: one row a job, one column an override key.

:func:`write_table` reads the journal's records twice (:func:`journal.records.read_results`, which
streams them): once for the keys the jobs set, in the order they first appear, and each
column's type, then for the rows, so that even a million-job sweep is written in flat
memory: as CSV, or as Parquet (``.parquet``, where pyarrow is installed: the ``parquet``
extra), a batch of rows at a time.

    >>> import tempfile
    >>> from hydra_python_sweeper.journal.lines import job_line
    >>> from hydra_python_sweeper.journal.writer import append
    >>> sweep_dir = Path(tempfile.mkdtemp())
    >>> append(sweep_dir / "journal.jsonl", job_line(0, ["+lr=0.1"], True, 0.9, "out/0"))
    >>> write_csv(sweep_dir, sweep_dir / "results.csv")
    1
    >>> (sweep_dir / "results.csv").read_text().splitlines()[0]
    'number,status,lr,returned,dir,started,ended,host'

Times are ISO 8601, in UTC (:func:`iso`); ``-`` as the target writes the CSV to standard
output. :func:`best` names the jobs that returned the lowest (or highest) numbers.
"""

import csv
import heapq
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Set, TextIO

from hydra_python_sweeper.errors import SettingError
from hydra_python_sweeper.journal.records import read_results


def write_table(sweep_dir: Path, target: Path) -> int:
    """Write the sweep's results to ``target``: Parquet if its name ends with ``.parquet``,
    else CSV (``-``: to standard output); the number of rows."""
    if target.suffix == ".parquet":
        return write_parquet(sweep_dir, target)
    return write_csv(sweep_dir, target)


def iso(seconds: Optional[float]) -> Optional[str]:
    """A time (seconds since the epoch) as ISO 8601, in UTC, to the millisecond.

    >>> iso(1796019590.25), iso(None)
    ('2026-11-30T06:19:50.250+00:00', None)
    """
    if seconds is None:
        return None
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment.isoformat(timespec="milliseconds")


def best(sweep_dir: Path, count: int = 5, highest: bool = False) -> List[Any]:
    """The ``count`` completed jobs whose return is the lowest number (``highest``: the
    highest), best first, read in flat memory; jobs that returned no number are left out."""
    numbers: Iterator[Any] = (
        record
        for record in read_results(sweep_dir)
        if record.status == "completed"
        and isinstance(record.returned, (int, float))
        and not isinstance(record.returned, bool)
        and record.returned == record.returned  # not NaN
    )
    pick = heapq.nlargest if highest else heapq.nsmallest
    return pick(count, numbers, key=lambda record: record.returned)


def _columns(sweep_dir: Path) -> Dict[str, Set[type]]:
    """The override keys the jobs set, in the order they first appear, with the types of
    their values (and ``returned``'s)."""
    keys: Dict[str, Set[type]] = {}
    returned: Set[type] = set()
    for record in read_results(sweep_dir):
        for key, value in record.overrides.items():
            keys.setdefault(key, set()).add(type(value))
        returned.add(type(record.returned))
    keys["returned"] = returned  # last, as in the CSV
    return keys


def write_csv(sweep_dir: Path, target: Path) -> int:
    """Write the sweep's results to the CSV file ``target``; the number of rows."""
    keys = [key for key in _columns(sweep_dir) if key != "returned"]
    columns: List[str] = ["number", "status", *keys, "returned", "dir", "started", "ended", "host"]
    rows = 0
    out: TextIO = sys.stdout if str(target) == "-" else open(target, "w", newline="")
    try:
        writer = csv.writer(out)
        writer.writerow(columns)
        for record in read_results(sweep_dir):
            values = [record.overrides.get(key, "") for key in keys]
            writer.writerow(
                [record.number, record.status, *map(_cell, values), _cell(record.returned),
                 record.dir, iso(record.started), iso(record.ended), record.host]
            )  # fmt: skip
            rows += 1
    finally:
        if out is not sys.stdout:
            out.close()
    return rows


def _cell(value: Any) -> Any:
    """A value as a CSV cell: numbers and strings as they are, others as JSON."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    return json.dumps(value)


_ARROW = {int: "int64", float: "float64", bool: "bool_", str: "string"}


def write_parquet(sweep_dir: Path, target: Path, rows_per_group: int = 65_536) -> int:
    """Write the sweep's results to the Parquet file ``target``, a row group at a time. A
    column whose values are all of one type (ints and floats: floats) is of that type, with
    nulls where a job does not set the key; any other is JSON text, as in the CSV."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise SettingError(
            "status --results *.parquet needs pyarrow: pip install 'hydra-python-sweeper[parquet]'"
        ) from None
    kinds = _columns(sweep_dir)
    fields = [pa.field("number", pa.int64()), pa.field("status", pa.string())]
    typed: Dict[str, bool] = {}
    for key, types in kinds.items():
        types = types - {type(None)}
        if types == {int, float}:
            types = {float}
        kind = _ARROW.get(next(iter(types))) if len(types) == 1 else None
        typed[key] = kind is not None
        fields.append(pa.field(key, getattr(pa, kind or "string")()))
    fields += [pa.field(name, pa.string()) for name in ("dir", "host")]
    fields += [pa.field(name, pa.timestamp("ms", tz="UTC")) for name in ("started", "ended")]
    schema = pa.schema(fields)
    rows = 0
    batch: List[Dict[str, Any]] = []
    with pq.ParquetWriter(str(target), schema) as writer:
        for record in read_results(sweep_dir):
            row: Dict[str, Any] = {"number": record.number, "status": record.status}
            for key in kinds:
                value = record.returned if key == "returned" else record.overrides.get(key)
                row[key] = value if typed[key] or value is None else _text(value)
            row.update(dir=record.dir, host=record.host)
            row.update(started=_moment(record.started), ended=_moment(record.ended))
            batch.append(row)
            if len(batch) == rows_per_group:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                rows, batch = rows + len(batch), []
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            rows += len(batch)
    return rows


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _moment(seconds: Optional[float]) -> Optional[datetime]:
    return None if seconds is None else datetime.fromtimestamp(seconds, timezone.utc)
