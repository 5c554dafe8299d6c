"""A sweep over time, drawn: the jobs running, and the jobs completed and failed.

:func:`plot` reads the journal's records (:func:`journal.records.read_results`) and draws, against
the minutes since the sweep's first job started, how many jobs ran at once (with the most at
once, so idle slots show as a gap below it, and a straggler as a long thin tail), and how
many had completed and failed. It needs matplotlib (``pip install 'hydra-python-sweeper[plot]'``)::

    >>> running_over_time([(0.0, 10.0), (2.0, 4.0)])
    ([0.0, 2.0, 4.0, 10.0], [1, 2, 1, 0])
"""

import itertools
from pathlib import Path
from typing import List, Sequence, Tuple

from hydra_python_sweeper.errors import SettingError
from hydra_python_sweeper.journal.records import read_results


def running_over_time(spans: Sequence[Tuple[float, float]]) -> Tuple[List[float], List[int]]:
    """For jobs that ran from ``start`` to ``end``: the times the count of jobs running
    changed, and that count from each of them on."""
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    times = [time for time, _ in events]
    counts = list(itertools.accumulate(change for _, change in events))
    return times, counts


def plot(sweep_dir: Path, target: Path) -> int:
    """Draw the sweep in ``sweep_dir`` into the image ``target``; how many jobs it shows."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SettingError(
            "status --plot needs matplotlib: pip install 'hydra-python-sweeper[plot]'"
        ) from None
    spans: List[Tuple[float, float]] = []
    completed: List[float] = []
    failed: List[float] = []
    for record in read_results(sweep_dir):
        if record.started is not None and record.ended is not None:
            spans.append((record.started, record.ended))
            (completed if record.status == "completed" else failed).append(record.ended)
    if not spans:
        raise SettingError(f"{sweep_dir}: no job with its start and end times to draw")
    origin = min(start for start, _ in spans)
    times, counts = running_over_time(spans)
    minutes = [(time - origin) / 60 for time in times]
    figure, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(9, 6))
    top.step(minutes, counts, where="post", label="jobs running")
    top.axhline(max(counts), linestyle=":", color="grey", label=f"most at once: {max(counts)}")
    top.set_ylabel("jobs running")
    top.legend(loc="upper right")
    for ends, label in ((completed, "completed"), (failed, "failed")):
        if ends:
            ends.sort()
            bottom.step([(end - origin) / 60 for end in ends], range(1, len(ends) + 1),
                        where="post", label=f"{label} ({len(ends)})")  # fmt: skip
    bottom.set_ylabel("jobs ended")
    bottom.set_xlabel("minutes since the first job started")
    bottom.legend(loc="upper left")
    top.set_title(f"{Path(sweep_dir).name}: {len(spans)} jobs")
    figure.tight_layout()
    figure.savefig(target, dpi=100)
    plt.close(figure)
    return len(spans)
