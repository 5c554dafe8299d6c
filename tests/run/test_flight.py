"""Batches in flight: the Flight stage, and the sweeper with max_in_flight > 1."""

import threading
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence

import pytest
from conftest import RecordingLauncher

from hydra_python_sweeper.errors import EntrypointFailed, SettingError
from hydra_python_sweeper.run.flight import Flight
from hydra_python_sweeper.run.sweeper import PythonSweeperImpl

Make = Callable[..., PythonSweeperImpl]


class Gate:
    """Work that blocks each item until the test opens its gate, counting what runs."""

    def __init__(self) -> None:
        self.gates: Dict[Any, threading.Event] = {}
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.started = threading.Semaphore(0)

    def gate(self, item: Any) -> threading.Event:
        with self.lock:
            return self.gates.setdefault(item, threading.Event())

    def __call__(self, item: Any) -> Any:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        self.started.release()
        assert self.gate(item).wait(10)
        with self.lock:
            self.running -= 1
        if item == "boom":
            raise RuntimeError("boom")
        return item * 2


def drawn_from(items: Sequence[Any], log: List[Any]) -> Any:
    for item in items:
        log.append(item)
        yield item


def test_a_slot_is_refilled_the_moment_it_frees_and_never_before() -> None:
    work, drawn = Gate(), []
    results = Flight(limit=3).run(drawn_from(range(10), drawn), work)
    out: List[Any] = []
    thread = threading.Thread(target=lambda: out.extend(results))
    thread.start()
    for _ in range(3):
        assert work.started.acquire(timeout=10)
    assert drawn == [0, 1, 2]  # three in flight, nothing more drawn
    work.gate(1).set()  # the second ends first: one new item, at once
    assert work.started.acquire(timeout=10)
    assert drawn == [0, 1, 2, 3]
    for item in range(10):
        work.gate(item).set()
    thread.join(10)
    assert work.most == 3
    assert out[0] == (1, 2) and sorted(out) == [(i, 2 * i) for i in range(10)]


def test_stop_draws_nothing_more_and_the_items_in_flight_still_end() -> None:
    work, drawn = Gate(), []
    flight = Flight(limit=2)
    for item in range(4):
        work.gate(item).set()
    seen = []
    for item, _ in flight.run(drawn_from(range(100), drawn), work):
        seen.append(item)
        flight.stop()
    assert len(drawn) == 2 and sorted(seen) == [0, 1]


def test_a_stream_error_is_raised_after_the_items_in_flight_end() -> None:
    def stream() -> Any:
        yield 1
        yield 2
        raise ValueError("stream broke")

    work = Gate()
    work.gate(1).set()
    work.gate(2).set()
    seen = []
    with pytest.raises(ValueError, match="stream broke"):
        for item, _ in Flight(limit=4).run(stream(), work):
            seen.append(item)
    assert sorted(seen) == [1, 2]


def test_work_that_raises_is_raised_after_the_others_end() -> None:
    work = Gate()
    for item in ("boom", 3, 4):
        work.gate(item).set()
    seen = []
    with pytest.raises(RuntimeError, match="boom"):
        for item, _ in Flight(limit=3).run(["boom", 3, 4, 5, 6], work):
            seen.append(item)
    assert 5 not in seen and 6 not in seen


# --- the sweeper -----------------------------------------------------------------------


class ThreadedLauncher(RecordingLauncher):
    """A recording launcher whose launches may overlap: each batch waits until the batch
    after it has been launched (or a short time), so batches end out of order."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lock = threading.Lock()
        self.active = 0
        self.most = 0

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Any:
        with self.lock:
            self.active += 1
            self.most = max(self.most, self.active)
        threading.Event().wait(0.02 if initial_job_idx % 4 == 0 else 0.001)
        with self.lock:
            returns = super().launch(job_overrides, initial_job_idx)
            self.active -= 1
        return returns


def test_returns_stay_in_batch_order_and_every_job_runs_once(make_sweeper: Make) -> None:
    launcher = ThreadedLauncher()
    sweeper = make_sweeper(
        launcher, entrypoints=["spaces.counter"], max_batch_size=1, max_in_flight=4
    )
    returns = sweeper.sweep([])
    assert [[r.return_value for r in batch] for batch in returns] == [[i] for i in range(10)]
    assert sorted(launcher.jobs) == sorted([f"+i={i}"] for i in range(10))
    assert launcher.most > 1  # the launches did overlap


def test_fail_fast_stops_new_launches_and_lets_the_batches_in_flight_end(
    make_sweeper: Make,
) -> None:
    launcher = ThreadedLauncher(on_launch=lambda start, batch: 2)
    sweeper = make_sweeper(
        launcher,
        entrypoints=["spaces.million"],
        max_batch_size=1,
        max_in_flight=4,
    )
    with pytest.raises(RuntimeError, match="job 2 failed"):
        sweeper.sweep([])
    started = sorted(start for start, _ in launcher.batches)
    assert started[:3] == [0, 1, 2] and len(started) < 12  # a few more at most, not a million


def test_an_entrypoint_error_with_batches_in_flight_keeps_them(make_sweeper: Make) -> None:
    launcher = ThreadedLauncher()
    sweeper = make_sweeper(
        launcher, entrypoints=["spaces.fails_at_5"], max_batch_size=1, max_in_flight=3
    )
    with pytest.raises(EntrypointFailed, match="job #5") as info:
        sweeper.sweep([])
    assert sorted(start for start, _ in launcher.batches) == [0, 1, 2, 3, 4]
    assert "(5 jobs completed and 0 failed before this error" in str(info.value)


@pytest.mark.parametrize("value", [0, -1, 1.5, "4"])
def test_a_bad_max_in_flight_is_refused(make_sweeper: Make, value: Any) -> None:
    sweeper = make_sweeper(entrypoints=["spaces.counter"], max_in_flight=value)
    with pytest.raises(SettingError, match=r"hydra\.sweeper\.max_in_flight="):
        sweeper.sweep([])
    assert sweeper.launcher.batches == []  # type: ignore[union-attr]


def test_the_basic_launcher_is_refused_before_anything_is_launched(tmp_path: Path) -> None:
    import subprocess
    import sys

    example = Path(__file__).resolve().parents[2] / "example" / "train.py"
    completed = subprocess.run(
        [
            sys.executable,
            str(example),
            "--config-name",
            "multilayer",
            "-m",
            f"hydra.sweep.dir={tmp_path}/sweep",
            "hydra.sweeper.max_in_flight=2",
        ],
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 1
    assert (
        "hydra.sweeper.max_in_flight=2 needs a launcher that runs jobs in other processes "
        "(submitit, joblib, ray): BasicLauncher runs them in this process" in completed.stderr
    )
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "sweep").exists()
