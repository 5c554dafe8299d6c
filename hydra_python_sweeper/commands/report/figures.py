"""The report's figures, drawn with plotly from a :class:`~.scan.Scan`.

Each function returns a plotly figure, or ``None`` when the sweep has nothing for it to
show (no job ended, no job returned a number). Times are drawn as dates, in the browser's
time zone; durations in seconds.
"""

import datetime
import itertools
from typing import Any, Dict, List, Sequence, Set, Tuple

from hydra_python_sweeper.commands.report.ends import LONGEST
from hydra_python_sweeper.commands.report.scan import Scan

COLOURS = {"completed": "#2ca02c", "failed": "#d62728", "started": "#1f77b4", "stopped": "#7f7f7f"}
_LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=40, b=40))
#: Parameters drawn against the return, at most (those with the most distinct values).
PARAMETERS = 12


def _date(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds)


def over_time(scan: Scan) -> Any:
    """Jobs running, and jobs completed and failed so far, against time (each job's
    latest attempt)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    starts, started = scan.bins.series("started")
    _, completed = scan.bins.series("completed")
    _, failed = scan.bins.series("failed")
    if not starts or (not any(started) and not any(completed) and not any(failed)):
        return None
    x = [_date(t) for t in starts]
    done_c = list(itertools.accumulate(completed))
    done_f = list(itertools.accumulate(failed))
    running = [s - c - f for s, c, f in zip(itertools.accumulate(started), done_c, done_f)]
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    figure.add_trace(go.Scatter(x=x, y=running, name="running (at each bin's end)", line_shape="hv",
                                line_color=COLOURS["started"]), row=1, col=1)  # fmt: skip
    for name, values in (("completed", done_c), ("failed", done_f)):
        figure.add_trace(go.Scatter(x=x, y=values, name=f"{name} (so far)", line_shape="hv",
                                    line_color=COLOURS[name]), row=2, col=1)  # fmt: skip
    figure.update_yaxes(title_text="running", row=1, col=1)
    figure.update_yaxes(title_text="ended", row=2, col=1)
    width = scan.bins.width
    figure.update_layout(title=f"Jobs over time (bins of {width:g} s)", height=480, **_LAYOUT)
    return figure


def lanes(jobs: Sequence[Dict[str, Any]], now: float) -> List[str]:
    """Each job's row on the timeline: its host and a slot there, the first slot free at
    its start (jobs in order of start).

    >>> jobs = [{"host": "a", "started": 0, "ended": 5}, {"host": "a", "started": 1, "ended": 2},
    ...         {"host": "a", "started": 3, "ended": 4}, {"host": "b", "started": 1, "ended": 2}]
    >>> lanes(jobs, now=9)
    ['a · 1', 'a · 2', 'a · 2', 'b · 1']
    """
    free: Dict[str, List[float]] = {}  # by host: when each slot frees up
    rows = []
    for job in jobs:
        host = job.get("host") or "?"
        start = job.get("started") or job.get("ended") or now
        slots = free.setdefault(host, [])
        slot = next((i for i, until in enumerate(slots) if until <= start), len(slots))
        end = job.get("ended") or now
        if slot == len(slots):
            slots.append(end)
        else:
            slots[slot] = end
        rows.append(f"{host} · {slot + 1}")
    return rows


def timeline(scan: Scan, now: float) -> Any:
    """One bar a job, from its start to its end, on a row of its host's, coloured by how
    it ended (Nextflow's timeline); a sample of the jobs past :data:`~.ends.TIMELINE`, the
    longest always among them. A job running runs to ``now``; one whose process is gone
    without its end line (``stopped``) to the sweep's last end."""
    import plotly.graph_objects as go

    shown = []
    for job in scan.timeline:
        begin = job.get("started") or job.get("ended")
        if begin is None:
            continue
        end = job.get("ended") or (now if job["status"] == "started" else scan.last or now)
        shown.append({**job, "started": begin, "ended": max(begin, end)})
    if not shown:
        return None
    rows = lanes(shown, now)
    figure = go.Figure()
    for status in ("completed", "failed", "started", "stopped"):
        mine = [(job, row) for job, row in zip(shown, rows) if job["status"] == status]
        if not mine:
            continue
        figure.add_trace(go.Bar(
            base=[_date(job["started"]) for job, _ in mine],
            x=[1000 * (job["ended"] - job["started"]) for job, _ in mine],
            y=[row for _, row in mine], orientation="h", name=_STATE[status],
            marker_color=COLOURS[status],
            customdata=[[job["number"], _overrides(job)] for job, _ in mine],
            hovertemplate="job #%{customdata[0]}<br>%{customdata[1]}<extra></extra>",
        ))  # fmt: skip
    count = len(set(rows))
    title = "Jobs by host and slot" + (
        f" (a sample of {len(shown):,} jobs, the {LONGEST} longest and those with no end"
        " among them)"
        if scan.timeline_sampled
        else ""
    )
    figure.update_layout(title=title, barmode="overlay", height=min(200 + 18 * count, 1200),
                         xaxis_type="date", yaxis=dict(autorange="reversed", type="category"),
                         **_LAYOUT)  # fmt: skip
    return figure


_STATE = {
    "completed": "completed", "failed": "failed", "started": "running",
    "stopped": "stopped without an end",
}  # fmt: skip


def durations(scan: Scan) -> Any:
    """How long the jobs took, completed and failed, in bins of equal width on a log scale
    (ten a decade), one bar a bin, empty bins included."""
    import plotly.graph_objects as go

    edges = sorted(
        {(low, high) for histogram in scan.durations.values() for low, high, _ in histogram.bins()}
    )
    if not edges:
        return None
    labels = [f"{low:.3g} to {high:.3g} s" for low, high in edges]
    figure = go.Figure()
    for status, histogram in scan.durations.items():
        counts = {(low, high): n for low, high, n in histogram.bins()}
        if counts:
            figure.add_trace(go.Bar(
                x=labels, y=[counts.get(edge, 0) for edge in edges], name=status,
                marker_color=COLOURS[status],
                hovertemplate="%{x}: %{y} jobs<extra></extra>",
            ))  # fmt: skip
    figure.update_layout(title="How long jobs took (every job that ended)", barmode="stack",
                         xaxis=dict(type="category", title="seconds"), yaxis_title="jobs",
                         height=360, **_LAYOUT)  # fmt: skip
    return figure


def parameters(points: Sequence[Dict[str, Any]]) -> List[str]:
    """The parameters worth drawing against the return: those that vary among the points,
    with plain values (numbers, strings, booleans), the most varied first.

    >>> parameters([{"overrides": {"lr": 0.1, "db": "a", "seed": 0}},
    ...             {"overrides": {"lr": 0.2, "db": "a", "seed": 1}},
    ...             {"overrides": {"lr": 0.3, "db": "a", "seed": 1}}])
    ['lr', 'seed']
    """
    seen: Dict[str, Set[Any]] = {}
    for point in points:
        for key, value in point["overrides"].items():
            if isinstance(value, (int, float, str, bool)) or value is None:
                seen.setdefault(key, set()).add(value)
    varied = [key for key, values in seen.items() if len(values) > 1]
    return sorted(varied, key=lambda key: -len(seen[key]))[:PARAMETERS]


def against_parameters(scan: Scan) -> Any:
    """The return against each parameter, a panel each (one point a job; a sample of the
    jobs past :data:`~.scan.POINTS`)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    keys = parameters(scan.points)
    if not keys:
        return None
    columns = min(3, len(keys))
    rows = -(-len(keys) // columns)
    figure = make_subplots(rows=rows, cols=columns, subplot_titles=keys, vertical_spacing=0.12)
    for i, key in enumerate(keys):
        shown = [p for p in scan.points if key in p["overrides"]]
        figure.add_trace(go.Scatter(
            x=[_plain(p["overrides"][key]) for p in shown], y=[p["returned"] for p in shown],
            mode="markers", marker=dict(size=5, opacity=0.6, color=COLOURS["completed"]),
            showlegend=False, customdata=[[p["number"]] for p in shown],
            hovertemplate=f"job #%{{customdata[0]}}<br>{key}=%{{x}}<br>return %{{y}}"
            "<extra></extra>",
        ), row=i // columns + 1, col=i % columns + 1)  # fmt: skip
        if spans_decades([p["overrides"][key] for p in shown]):
            figure.update_xaxes(type="log", row=i // columns + 1, col=i % columns + 1)
    sampled = (
        f" (a sample of {len(scan.points):,} of {scan.numeric:,})" if scan.points_sampled else ""
    )
    figure.update_layout(title=f"The return against each parameter{sampled}",
                         height=260 * rows + 80, **_LAYOUT)  # fmt: skip
    return figure


def spans_decades(values: Sequence[Any]) -> bool:
    """Whether ``values`` are positive numbers over two decades or more: drawn on a log axis.

    >>> spans_decades([1e-4, 3e-3, 1e-2]), spans_decades([1, 3, 9]), spans_decades([0, 1e3])
    (True, False, False)
    """
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not numbers or len(numbers) < len(values) or min(numbers) <= 0:
        return False
    return max(numbers) / min(numbers) >= 100


def parallel(scan: Scan) -> Any:
    """The jobs in parallel coordinates: one axis a parameter, the last the return, each
    job a line coloured by its return."""
    import plotly.graph_objects as go

    keys = parameters(scan.points)
    shown = [p for p in scan.points if all(k in p["overrides"] for k in keys)]
    if not keys or not shown:
        return None
    dimensions = []
    for key in keys:
        values = [_plain(p["overrides"][key]) for p in shown]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            dimensions.append(dict(label=key, values=values))
        else:
            names = sorted({str(v) for v in values})
            index = {name: i for i, name in enumerate(names)}
            dimensions.append(dict(label=key, values=[index[str(v)] for v in values],
                                   tickvals=list(range(len(names))), ticktext=names))  # fmt: skip
    returns = [p["returned"] for p in shown]
    dimensions.append(dict(label="return", values=returns))
    figure = go.Figure(go.Parcoords(
        line=dict(color=returns, colorscale="Viridis", showscale=True), dimensions=dimensions,
    ))  # fmt: skip
    sampled = f" (a sample of {len(shown):,} of {scan.numeric:,})" if scan.points_sampled else ""
    figure.update_layout(title=f"Parameters and return{sampled}", height=420, **_LAYOUT)
    return figure


def rungs(scan: Scan, key: str) -> Tuple[Any, List[Tuple[Any, int, Any, Any]]]:
    """An adaptive sweep's rungs by the parameter ``key`` (its budget: epochs, steps): the
    return of each job against its rung, and a row a rung: the rung, its jobs that
    returned a number, their best and median return (lowest first)."""
    import plotly.graph_objects as go

    by_rung: Dict[Any, List[float]] = {}
    for point in scan.points:
        if key in point["overrides"]:
            by_rung.setdefault(point["overrides"][key], []).append(point["returned"])
    if not by_rung:
        return None, []
    order = sorted(by_rung, key=_rung_key)
    table = []
    for rung in order:
        values = sorted(by_rung[rung])
        table.append((rung, len(values), values[0], values[len(values) // 2]))
    figure = go.Figure(go.Scatter(
        x=[str(rung) for rung in order for _ in by_rung[rung]],
        y=[value for rung in order for value in by_rung[rung]], mode="markers",
        marker=dict(size=6, opacity=0.6, color=COLOURS["completed"]), name="jobs",
    ))  # fmt: skip
    figure.update_layout(title=f"Rungs: the return at each {key}", height=360,
                         xaxis=dict(type="category", title=key), yaxis_title="return",
                         **_LAYOUT)  # fmt: skip
    return figure, table


def _rung_key(rung: Any) -> Tuple[int, Any]:
    return (0, rung) if isinstance(rung, (int, float)) else (1, str(rung))


def _plain(value: Any) -> Any:
    return value if isinstance(value, (int, float, str)) else str(value)


def _overrides(job: Dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in job["overrides"].items())[:300]
