"""A sweep's report: one HTML file, whole in itself (plotly's script inside it), that any
browser opens offline, built from the sweep's journal alone while it runs or after.

:func:`write_report` reads the journal once, for the status and the report's tallies together
(:func:`~.scan.scan_sweep`), and writes the page. It needs plotly
(``pip install 'hydra-python-sweeper[report]'``).
"""

import html
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from hydra_python_sweeper.commands.report.scan import EXAMPLES, Scan, scan_sweep
from hydra_python_sweeper.errors import SettingError

#: A failure's lines shown, at most.
ERROR_LINES = 12

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { padding: 2px 10px; text-align: left; }
th { border-bottom: 1px solid #888; } tr:nth-child(even) td { background: #f4f4f4; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f4f4f4; padding: 0.6em; overflow-x: auto; white-space: pre-wrap; }
.note { color: #666; font-size: 0.9em; }
"""


def write_report(
    sweep_dir: Path,
    target: Optional[Path] = None,
    highest: bool = False,
    rung: str = "epochs",
    best: int = 20,
) -> Tuple[Path, Any]:
    """Write the report of the sweep in ``sweep_dir`` to ``target`` (``report.html`` in the
    sweep dir by default), whole or not at all; the path written and the sweep's status."""
    try:
        import plotly.io
        import plotly.offline
    except ImportError:
        raise SettingError(
            "the report needs plotly: pip install 'hydra-python-sweeper[report]'"
        ) from None
    from hydra_python_sweeper.commands.report import figures

    sweep_dir = Path(sweep_dir)
    target = Path(target) if target is not None else sweep_dir / "report.html"
    now = time.time()
    status, scan = scan_sweep(sweep_dir, best, highest, now)
    rung_figure, rung_table = figures.rungs(scan, rung) if scan.adaptive else (None, [])
    parts = [
        f"<h1>Sweep {_e(status.sweep_dir)}</h1>",
        f'<p class="note">Built {time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))} '
        f"from {_e(scan.path)} by hydra-python-sweeper's <code>report</code>.</p>",
        _summary(status),
        _commands(status),
        _failures(status, scan),
        _running(status),
        _figure("over-time", "Jobs over time", figures.over_time(scan)),
        _figure("timeline", "Timeline", figures.timeline(scan, now)),
        _figure("durations", "Durations", figures.durations(scan)),
        _best(scan, highest),
        _figure(
            "parameters", "The return against the parameters", figures.against_parameters(scan)
        ),
        _figure("parallel", "Parallel coordinates", figures.parallel(scan)),
    ]
    if scan.adaptive:
        parts.append(_rungs(rung, rung_table, scan))
        parts.append(_figure("rungs", "", rung_figure))
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Sweep report: {_e(Path(status.sweep_dir).name)}</title>"
        f"<style>{_STYLE}</style>"
        f'<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>'
        "</head><body>\n" + "\n".join(p for p in parts if p) + "\n</body></html>\n"
    )
    _write_whole(target, page)
    return target, status


def _figure(name: str, title: str, figure: Any) -> str:
    """A figure's part of the page (none without a figure): its heading, and plotly's div
    (plotly's script is the page's, once)."""
    if figure is None:
        return ""
    import plotly.io

    body = plotly.io.to_html(
        figure, full_html=False, include_plotlyjs=False, div_id=f"plot-{name}",
        config={"displaylogo": False, "responsive": True},
    )  # fmt: skip
    heading = f"<h2>{_e(title)}</h2>\n" if title else ""
    return f'{heading}<div class="figure" id="fig-{name}">{body}</div>'


def _write_whole(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` through a file beside it renamed onto it: a reader
    sees the old report or the new one, never half of one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise


def _e(value: Any) -> str:
    """A value as the page's text: whatever a sweep's overrides or errors hold is shown, never
    taken for the page's own markup.

    >>> _e("ValueError('<nan>')")
    'ValueError(&#x27;&lt;nan&gt;&#x27;)'
    """
    return html.escape(str(value))


def _summary(status: Any) -> str:
    state = "ended" if status.ended else "running" if status.sweeper else "not running"
    total = "not known (a generator)" if status.total is None else f"{status.total:,}"
    head = f"<p>State: <b>{state}</b>; {status.runs} run(s); jobs in the sweep: {total}.</p>"
    counts = [
        ("completed", status.completed),
        ("failed", status.failed),
        ("running", status.running),
        ("stopped without an end", len(status.stopped)),
        ("not yet launched", "?" if status.not_launched is None else status.not_launched),
    ]
    header = "".join(f"<th>{_e(k)}</th>" for k, _ in counts)
    cells = "".join(f'<td class="n" data-count="{_e(k)}">{_e(v)}</td>' for k, v in counts)
    pace = f"Pace: {status.overall_per_minute:.1f} jobs a minute overall"
    if status.median_seconds is not None:
        pace += f"; median job {status.median_seconds:.3g} s"
    if status.eta_seconds is not None and not status.ended:
        pace += f"; about {status.eta_seconds / 60:.1f} min left at the recent pace"
    return f'{head}<table id="summary"><tr>{header}</tr><tr>{cells}</tr></table><p>{pace}.</p>'


def _commands(status: Any) -> str:
    lines = []
    if not status.ended or status.failed:
        lines.append(("To resume", status.resume))
    if status.sweeper or status.running:
        lines.append(("To cancel", status.cancel))
    return "".join(f"<p>{_e(k)}:</p><pre>{_e(v)}</pre>" for k, v in lines)


def _failures(status: Any, scan: Scan) -> str:
    if not status.failures:
        return ""
    parts = ['<h2>Failures by error</h2><div id="failures">']
    for error, count, numbers in status.failures[:10]:
        examples = [scan.examples[n] for n in numbers[:EXAMPLES] if n in scan.examples]
        text = str(examples[0]["returned"]) if examples else error
        lines = text.strip().splitlines()
        shown = "\n".join(lines[:ERROR_LINES]) + ("\n..." if len(lines) > ERROR_LINES else "")
        parts.append(
            f'<div class="failure"><p><b data-failed="{count}">{count}</b> x '
            f"<code>{_e(error)}</code></p><pre>{_e(shown)}</pre>"
        )
        parts.append(_jobs_table(examples, "failure-jobs"))
        parts.append("</div>")
    if len(status.failures) > 10:
        parts.append(f'<p class="note">and {len(status.failures) - 10} more errors</p>')
    parts.append("</div>")
    return "\n".join(parts)


def _running(status: Any) -> str:
    if not status.in_flight:
        return ""
    median = status.median_seconds
    rows = []
    for job in status.in_flight[:50]:
        since = status.now - job.since if job.since else None
        late = " (straggler)" if job in status.stragglers else ""
        rows.append(
            f"<tr><td>#{job.job}</td><td>{_e(job.where)}</td>"
            f'<td class="n">{"?" if since is None else f"{since:.0f} s"}{late}</td></tr>'
        )
    more = len(status.in_flight) - 50
    median_note = f"; median job {median:.3g} s" if median else ""
    return (
        f'<h2>Running ({len(status.in_flight)}{median_note})</h2><table id="running">'
        "<tr><th>job</th><th>where</th><th>running for</th></tr>"
        + "".join(rows)
        + "</table>"
        + (f'<p class="note">and {more} more</p>' if more > 0 else "")
    )


def _best(scan: Scan, highest: bool) -> str:
    if not scan.best:
        return ""
    which = "highest" if highest else "lowest"
    return (
        f"<h2>The best jobs ({which} returns, of {scan.numeric:,} that returned a number)</h2>"
        + _jobs_table(scan.best, "best", returns=True)
    )


def _rungs(key: str, table: List[Tuple[Any, int, Any, Any]], scan: Scan) -> str:
    if not table:
        return (
            f'<h2>Rungs</h2><p class="note">An adaptive sweep; no job that returned a number '
            f"has the parameter <code>{_e(key)}</code> (<code>--rung KEY</code> names another).</p>"
        )
    sampled = " (from a sample of the jobs)" if scan.points_sampled else ""
    rows = "".join(
        f'<tr><td>{_e(r)}</td><td class="n">{n}</td><td class="n">{_e(b)}</td>'
        f'<td class="n">{_e(m)}</td></tr>'
        for r, n, b, m in table
    )
    return (
        f"<h2>What each rung kept{sampled}</h2>"
        f'<table id="rungs"><tr><th>{_e(key)}</th><th>jobs</th><th>best return</th>'
        f"<th>median return</th></tr>{rows}</table>"
    )


def _jobs_table(jobs: List[Dict[str, Any]], name: str, returns: bool = False) -> str:
    if not jobs:
        return ""
    head = "<tr><th>job</th><th>status</th>" + ("<th>return</th>" if returns else "")
    head += "<th>overrides</th><th>output dir</th></tr>"
    rows = []
    for job in jobs:
        overrides = " ".join(f"{k}={v}" for k, v in job["overrides"].items())
        value = f'<td class="n">{_e(job["returned"])}</td>' if returns else ""
        rows.append(
            f'<tr data-job="{job["number"]}"><td>#{job["number"]}</td><td>{_e(job["status"])}'
            f"</td>{value}<td><code>{_e(overrides)}</code></td><td>{_e(job['dir'])}</td></tr>"
        )
    return f'<table class="{name}">{head}{"".join(rows)}</table>'
