"""The report's page (:mod:`report.page`) without a browser: whole in itself, written whole,
one clear message where it cannot be."""

import re
import sys
from pathlib import Path

import pytest

from hydra_python_sweeper.commands.cli import main
from hydra_python_sweeper.journal.lines import job_line
from hydra_python_sweeper.journal.writer import append

pytest.importorskip("plotly")


def sweep(tmp_path: Path) -> Path:
    append(
        tmp_path / "journal.jsonl",
        {"run": 1, "total": 3, "at": 1000.0, "argv": ["train.py", "-m"]},
        {**job_line(0, ["+lr=0.1", "+tag='<b>'"], True, 0.5, "0"), "started": 1e3,
         "ended": 1e3 + 2},
        {**job_line(1, ["+lr=0.2", "+tag=x"], False, "ValueError('<nan>')\nline 2", "1"),
         "started": 1e3, "ended": 1e3 + 3},
        {**job_line(2, ["+lr=0.3", "+tag=y"], True, 0.25, "2"), "started": 1e3, "ended": 1e3 + 4},
    )  # fmt: skip
    return tmp_path


def test_the_page_needs_nothing_from_outside_and_escapes_the_sweep_s_text(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["report", str(sweep(tmp_path))]) == 0
    assert "Report of 3 jobs written to" in capsys.readouterr().out
    page = (tmp_path / "report.html").read_text()
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', page)
    assert page.count("<script") > 5 and "Plotly" in page  # plotly's own script, inside
    assert "ValueError(&#x27;&lt;nan&gt;&#x27;)" in page and "<nan>" not in page
    assert "tag=&lt;b&gt;" in page and "tag=<b>" not in page
    assert not list(tmp_path.glob(".report.html.*"))  # written beside it, renamed over it


def test_a_page_written_elsewhere_replaces_the_last_one_whole(tmp_path: Path) -> None:
    target = tmp_path / "out" / "sweep.html"
    assert main(["report", str(sweep(tmp_path)), "-o", str(target)]) == 0
    first = target.read_text()
    assert main(["report", str(tmp_path), "-o", str(target), "--highest"]) == 0
    second = target.read_text()
    assert "highest returns" in second and "lowest returns" in first
    assert second.rstrip().endswith("</html>")


def test_without_a_journal_or_plotly_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["report", str(tmp_path)]) == 1
    assert capsys.readouterr().out == (
        f"error: there is no journal in {tmp_path} ({tmp_path}/journal.jsonl is not a file)\n"
    )
    sweep(tmp_path)
    monkeypatch.setitem(sys.modules, "plotly", None)  # not installed
    assert main(["report", str(tmp_path)]) == 1
    assert capsys.readouterr().out == (
        "error: the report needs plotly: pip install 'hydra-python-sweeper[report]'\n"
    )
    assert not (tmp_path / "report.html").exists()


def test_the_timeline_draws_jobs_with_no_end_to_now_or_to_the_sweep_s_last_end(
    tmp_path: Path,
) -> None:
    """A job running runs to now; one whose process is gone without its end line runs to
    the sweep's last end, in a trace of its own; each on a slot of its host."""
    from hydra_python_sweeper.commands.report import figures
    from hydra_python_sweeper.commands.report.scan import scan_sweep
    from hydra_python_sweeper.journal.lines import started_line

    sweep(tmp_path)  # three jobs ended, the last at 1004
    gone = {**started_line(3, ["+lr=0.4", "+tag=z"]), "at": 1001.0, "pid": 1 << 30}
    alive = {**started_line(4, ["+lr=0.5", "+tag=w"]), "at": 1002.0}  # this process
    append(tmp_path / "journal.jsonl", gone, alive)
    status, scan = scan_sweep(tmp_path, now=2000.0)
    assert [j.job for j in status.stopped] == [3] and [j.job for j in status.in_flight] == [4]
    figure = figures.timeline(scan, now=2000.0)
    traces = {trace.name: trace for trace in figure.data}
    assert set(traces) == {"completed", "failed", "running", "stopped without an end"}
    assert list(traces["running"].x) == [1000 * (2000.0 - 1002.0)]
    assert list(traces["stopped without an end"].x) == [1000 * (1004.0 - 1001.0)]
    assert len(set(traces["completed"].y) | set(traces["failed"].y)) == 3  # three at once
