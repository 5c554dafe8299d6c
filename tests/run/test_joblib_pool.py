"""Batches in flight through joblib: two launches asking for joblib's pool at once each get
a whole pool (joblib issue #1794), with the race made certain rather than left to chance."""

import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest

joblib = pytest.importorskip("joblib")
from joblib.executor import MemmappingExecutor  # noqa: E402
from joblib.externals.loky import get_reusable_executor  # noqa: E402
from joblib.externals.loky.reusable_executor import _ReusablePoolExecutor  # noqa: E402

from hydra_python_sweeper.run.joblib_pool import one_at_a_time, uses_joblib  # noqa: E402


def square(n: int) -> int:
    return n * n


@pytest.fixture
def new_pool_held_open(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """joblib's next pool is a new one, and loky hands it over only to pause for a second
    before joblib finishes it: the window of joblib#1794, held open. The event is set when
    the first caller is inside that window."""
    get_reusable_executor().shutdown(wait=True)  # the next call makes a new pool
    made = _ReusablePoolExecutor.get_reusable_executor.__func__  # type: ignore[attr-defined]
    inside = threading.Event()

    def slowly(cls: Any, *args: Any, **kwargs: Any) -> Any:
        executor, reused = made(cls, *args, **kwargs)
        if not reused:
            inside.set()
            time.sleep(1.0)
        return executor, reused

    monkeypatch.setattr(_ReusablePoolExecutor, "get_reusable_executor", classmethod(slowly))
    return inside


def two_batches_at_once(inside: threading.Event) -> Dict[str, Any]:
    """What each of two batches got from ``joblib.Parallel`` (as hydra-joblib-launcher runs a
    batch), the second asking for the pool while the first is in the window."""
    outcome: Dict[str, Any] = {}

    def batch(name: str, numbers: List[int]) -> None:
        try:
            outcome[name] = joblib.Parallel(n_jobs=2)(joblib.delayed(square)(n) for n in numbers)
        except Exception as error:  # what the launcher would have raised
            outcome[name] = error

    first = threading.Thread(target=batch, args=("first", [1, 2, 3]))
    first.start()
    assert inside.wait(30), "joblib made no new pool"
    second = threading.Thread(target=batch, args=("second", [4, 5, 6]))
    second.start()
    first.join(60)
    second.join(60)
    return outcome


def test_without_the_sweeper_the_second_batch_gets_a_half_made_pool(
    new_pool_held_open: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race is real and this test meets it: joblib's own factory, unguarded."""
    factory: Callable[..., Any] = MemmappingExecutor.get_memmapping_executor
    unguarded = getattr(factory, "__wrapped__", factory.__func__)  # type: ignore[attr-defined]
    monkeypatch.setattr(MemmappingExecutor, "get_memmapping_executor", classmethod(unguarded))
    outcome = two_batches_at_once(new_pool_held_open)
    assert outcome["first"] == [1, 4, 9]
    assert isinstance(outcome["second"], AttributeError)
    assert "_temp_folder_manager" in str(outcome["second"])


def test_with_the_sweeper_both_batches_run_whole(new_pool_held_open: threading.Event) -> None:
    one_at_a_time()
    outcome = two_batches_at_once(new_pool_held_open)
    assert outcome == {"first": [1, 4, 9], "second": [16, 25, 36]}


def meet(folder: str, mine: str, other: str) -> bool:
    """A job that says it is here, and whether the other batch's job was there too."""
    here = Path(folder)
    (here / mine).touch()
    for _ in range(600):
        if (here / other).exists():
            return True
        time.sleep(0.05)
    return False


def test_the_batches_jobs_still_run_together(tmp_path: Path) -> None:
    """Only the factory takes turns: each batch's job waits for the other batch's to be
    running, which a lock held for a whole batch would never let happen."""
    one_at_a_time()
    results: Dict[str, Any] = {}

    def batch(mine: str, other: str) -> None:
        results[mine] = joblib.Parallel(n_jobs=2)(
            [joblib.delayed(meet)(str(tmp_path), mine, other)]
        )

    threads = [threading.Thread(target=batch, args=names) for names in (("a", "b"), ("b", "a"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == {"a": [True], "b": [True]}


def test_only_joblib_s_launcher_is_taken_for_joblib_s() -> None:
    from hydra._internal.core_plugins.basic_launcher import BasicLauncher
    from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher

    assert uses_joblib(JoblibLauncher())
    assert not uses_joblib(BasicLauncher())
