"""The report in a real browser (headless Chromium through selenium): the page loads with no
console error, every figure has drawn its marks, the counts on the page are the journal's,
and each failure's error and jobs are on the page; for a sweep that ended with a failure,
one in progress, an adaptive one, and one of 100,000 jobs.

Needs ``chromium`` and ``chromium-driver`` (Debian's packages) and selenium; skipped where
they are missing, unless ``HYDRA_PYTHON_SWEEPER_REQUIRE_BROWSER`` is set (CI)."""

import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from hydra_python_sweeper.journal.lines import encode, job_line, started_line

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "tests" / "apps"
pytest.importorskip("plotly")

#: For each figure: each of its traces' marks as data says, and as the page drew them.
MARKS = """
return Array.from(document.querySelectorAll('div.figure')).map(figure => {
  const plot = figure.querySelector('.js-plotly-plot');
  if (!plot || !plot._fullData) return [figure.id, null];
  const traces = plot._fullData.map((trace, i) => {
    if (trace.type === 'parcoords') {
      return [trace.dimensions.length, figure.querySelectorAll('.parcoords .y-axis').length];
    }
    const layer = Array.from(figure.querySelectorAll('g.trace'))
      .filter(g => g.__data__ && g.__data__[0] && g.__data__[0].trace &&
                   g.__data__[0].trace.index === trace.index);
    const drawn = layer.map(g => trace.type === 'bar'
        ? g.querySelectorAll('g.point path').length
        : (trace.mode || '').includes('markers') ? g.querySelectorAll('path.point').length
        : g.querySelectorAll('path.js-line[d]').length ? 1 : 0)
      .reduce((a, b) => a + b, 0);
    const expected = trace.type === 'bar' || (trace.mode || '').includes('markers')
      ? (trace.x || []).length : 1;
    return [expected, drawn];
  });
  return [figure.id, traces];
});
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    try:
        from selenium import webdriver
    except ImportError:
        webdriver = None
    if webdriver is None or chromium is None or driver is None:
        reason = "needs selenium, and Debian's chromium and chromium-driver"
        if os.environ.get("HYDRA_PYTHON_SWEEPER_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--enable-unsafe-swiftshader"):  # fmt: skip
        options.add_argument(argument)
    options.binary_location = chromium
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    session = webdriver.Chrome(service=webdriver.ChromeService(driver), options=options)
    session.set_page_load_timeout(180)
    try:
        yield session
    finally:
        session.quit()


def report(sweep_dir: Path, *extra: str) -> Path:
    made = subprocess.run(
        [sys.executable, "-m", "hydra_plugins.hydra_python_sweeper", "report", str(sweep_dir),
         *extra],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert f"written to {sweep_dir / 'report.html'}" in made.stdout
    return sweep_dir / "report.html"


def opened(browser: Any, page: Path) -> Dict[str, Any]:
    """The page opened: what its figures drew, its counts, its text; no console error."""
    browser.get_log("browser")  # what came before this page
    browser.get(page.as_uri())
    deadline = time.monotonic() + 120
    while browser.execute_script("return document.readyState") != "complete":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    marks = dict(browser.execute_script(MARKS))
    for name, traces in marks.items():
        assert traces, f"{name} drew nothing"
        for expected, drawn in traces:
            assert expected > 0 and drawn == expected, (name, traces)
    counts = browser.execute_script(
        "return Object.fromEntries(Array.from(document.querySelectorAll('[data-count]'))"
        ".map(e => [e.dataset.count, e.textContent]))"
    )
    text = browser.find_element("tag name", "body").text
    return {"marks": marks, "counts": counts, "text": text}


def last_lines(sweep_dir: Path) -> Dict[int, Dict[str, Any]]:
    """Each job's last journal line, the journal read whole (the test's own count)."""
    last: Dict[int, Dict[str, Any]] = {}
    for line in (sweep_dir / "journal.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "job" in record:
            last[record["job"]] = record
    return last


def states(last: Dict[int, Dict[str, Any]]) -> Tuple[int, int, int]:
    found = [r["status"] for r in last.values()]
    return found.count("completed"), found.count("failed"), found.count("started")


def test_a_sweep_that_ended_with_a_failure(browser: Any, tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    ran = subprocess.run(
        [sys.executable, str(APPS / "exits.py"), "-m", f"hydra.sweep.dir={sweep_dir}",
         "how=exit", "code=3", "hydra.sweeper.fail_fast=false"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert ran.returncode == 1, ran.stderr
    page = opened(browser, report(sweep_dir))
    completed, failed, running = states(last_lines(sweep_dir))
    assert (completed, failed, running) == (6, 1, 0)
    assert page["counts"]["completed"] == "6" and page["counts"]["failed"] == "1"
    assert page["counts"]["running"] == "0" and page["counts"]["not yet launched"] == "0"
    # the failure: its error, and its job with its overrides
    assert "1 x TaskExited('the task called sys.exit(3)')" in page["text"]
    assert "#4 failed how=exit code=3 x=4 name=job 4" in page["text"]
    assert "python " in page["text"] and "hydra.sweeper.resume=true" in page["text"]
    # the best jobs: each returned its number
    assert "#0 completed 0 how=exit code=3 x=0 name=job 0" in page["text"]
    assert set(page["marks"]) == {
        "fig-over-time", "fig-timeline", "fig-durations", "fig-parameters", "fig-parallel"
    }  # fmt: skip
    bars = sum(drawn for _, drawn in page["marks"]["fig-timeline"])
    assert bars == 7  # every job, none sampled


def test_a_sweep_in_progress(browser: Any, tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    release = tmp_path / "release"
    sweeper = subprocess.Popen(
        [sys.executable, str(APPS / "durable.py"), "-m", f"hydra.sweep.dir={sweep_dir}",
         "sleep=0", "batch=4", f"hold={release}", "hold_from=6"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        journal = sweep_dir / "journal.jsonl"
        deadline = time.monotonic() + 120
        while not journal.exists() or '{"job": 6, "status": "started"' not in journal.read_text():
            assert sweeper.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        page = opened(browser, report(sweep_dir))
        assert states(last_lines(sweep_dir)) == (6, 0, 1)
        assert page["counts"]["completed"] == "6" and page["counts"]["running"] == "1"
        assert "Running (1" in page["text"] and "#6 pid " in page["text"]
        assert "To cancel:" in page["text"] and "State: running;" in page["text"]
        timeline = page["marks"]["fig-timeline"]
        assert sorted(drawn for _, drawn in timeline) == [1, 6]  # running, completed
    finally:
        release.touch()
        try:
            code = sweeper.wait(timeout=120)
        except subprocess.TimeoutExpired:
            sweeper.kill()  # never left behind
            sweeper.wait()
            raise
        assert code == 0


def test_an_adaptive_sweep_shows_its_rungs(browser: Any, tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    ran = subprocess.run(
        [sys.executable, str(ROOT / "example" / "objective.py"), "-m",
         f"hydra.sweep.dir={sweep_dir}", "hydra.sweeper.entrypoints=[{_target_: "
         "config.adaptive.asha, budget: 24}]"],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-2000:]
    page = opened(browser, report(sweep_dir))
    last = last_lines(sweep_dir)
    assert states(last) == (24, 0, 0) and page["counts"]["completed"] == "24"
    assert "fig-rungs" in page["marks"]
    # a row a rung: its epochs, and how many jobs ran at it, as the journal says
    at = [next(o for o in r["overrides"] if o.startswith("epochs=")) for r in last.values()]
    rows = browser.execute_script(
        "return Array.from(document.querySelectorAll('#rungs tr')).slice(1)"
        ".map(row => Array.from(row.cells).map(cell => cell.textContent))"
    )
    found = {int(row[0]): int(row[1]) for row in rows}
    assert found == {int(e.split("=")[1]): at.count(e) for e in set(at)}
    assert found[1] > found.get(3, 0) > 0  # halving: fewer jobs each rung up


def write_sweep(sweep_dir: Path, n: int, seed: int = 0) -> None:
    """A journal as a sweep of ``n`` jobs on 8 hosts leaves it: two parameters, a loss
    returned, 1% failed with one of two errors, the last 50 running."""
    rng = random.Random(seed)
    sweep_dir.mkdir(parents=True)
    t0 = time.time() - 3600
    with open(sweep_dir / "journal.jsonl", "wb") as f:
        f.write(encode({"run": 1, "total": n, "at": t0, "argv": ["train.py", "-m"]}))
        chunk: List[bytes] = []
        for number in range(n):
            lr, layers = rng.choice([1e-4, 1e-3, 1e-2]), rng.randint(1, 4)
            overrides = [f"+lr={lr}", f"+layers={layers}", f"+seed={number}"]
            start = t0 + number * 3000 / n
            line = {**started_line(number, overrides), "at": start, "host": f"node{number % 8}"}
            chunk.append(encode(line))
            if number >= n - 50:
                continue
            failed = number % 100 == 7
            error = "ValueError('nan loss')" if number // 100 % 2 else "MemoryError()"
            loss = round(abs(lr - 1e-3) * 100 + layers / 10 + rng.random() / 10, 4)
            returned = error if failed else loss
            end = job_line(number, overrides, not failed, returned, f"out/{number}")
            end.update(started=start, ended=start + rng.uniform(1, 30), host=f"node{number % 8}")
            chunk.append(encode(end))
            if len(chunk) > 10_000:
                f.write(b"".join(chunk))
                chunk = []
        f.write(b"".join(chunk))


def test_a_sweep_of_100_000_jobs(browser: Any, tmp_path: Path) -> None:
    sweep_dir = tmp_path / "big"
    write_sweep(sweep_dir, 100_000)
    target = report(sweep_dir)
    assert target.stat().st_size < 10_000_000
    page = opened(browser, target)
    completed, failed, running = states(last_lines(sweep_dir))
    assert page["counts"]["completed"] == str(completed) and completed == 98_950
    assert page["counts"]["failed"] == str(failed) and failed == 1_000
    # stopped without an end: the started lines name a pid of this host that is gone
    shown_running = int(page["counts"]["running"]) + int(page["counts"]["stopped without an end"])
    assert shown_running == running == 50
    assert "500 x MemoryError()" in page["text"] and "500 x ValueError('nan loss')" in page["text"]
    assert "(a sample of 3,000 of 98,950)" in page["text"]
    timeline = sum(drawn for _, drawn in page["marks"]["fig-timeline"])
    assert 2_000 + 50 <= timeline <= 2_020 + 50  # a sample, the longest, those with no end
