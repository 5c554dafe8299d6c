"""pytest-benchmark: each pipeline stage and the whole pipeline, next to the plain-Python
floor and to Hydra's BasicSweeper, over the same 3-key space of N jobs.

    pytest bench/ --benchmark-only
"""

import itertools
from collections import deque
from typing import Any, Callable, Iterable, List, Sequence

import bench_spaces
import pytest
import xxhash
from conftest import N
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from more_itertools import chunked

from hydra_python_sweeper.run.adaptive import Adaptive
from hydra_python_sweeper.run.pipeline import assemble
from hydra_python_sweeper.run.settings import Settings
from hydra_python_sweeper.space.format import Formatter
from hydra_python_sweeper.space.product import lazy_product, merge_jobs, merged_product
from hydra_python_sweeper.space.stages import (
    UniqueJobs,
    batched,
    format_batches,
    format_jobs,
)

BATCH = 1000


def drain(iterable: Iterable[Any]) -> None:
    deque(iterable, maxlen=0)


def run(benchmark: Any, make: Callable[[], Iterable[Any]], expected: int) -> None:
    """Benchmark draining ``make()``; check it held ``expected`` items."""
    count = sum(1 for _ in make())
    assert count == expected
    benchmark(lambda: drain(make()))


# --- the floor: what plain Python needs for the same work --------------------------------


def floor_jobs() -> Iterable[List[str]]:
    for a, b, c in itertools.product(range(10), range(10), range(N // 100)):
        yield [f"+a={a}", f"+b={b}", f"+c={c}"]


def test_floor(benchmark: Any) -> None:
    """itertools.product + f-strings + chunking: no checks, no generality."""
    run(benchmark, lambda: chunked(floor_jobs(), BATCH), N // BATCH)


def test_floor_dedup(benchmark: Any) -> None:
    """The floor, plus an xxh3-128 digest of each job kept in a Python set."""

    def make() -> Iterable[Any]:
        seen: set = set()
        for job in floor_jobs():
            digest = xxhash.xxh3_128_digest("\0".join(sorted(job)).encode())
            if digest not in seen:
                seen.add(digest)
                yield job

    run(benchmark, lambda: chunked(make(), BATCH), N // BATCH)


# --- Hydra's BasicSweeper ------------------------------------------------------------------


def test_basic_sweeper(benchmark: Any) -> None:
    """BasicSweeper.split_arguments over the same space (it builds every job up front)."""
    overrides = OverridesParser.create().parse_overrides(bench_spaces.command_line(N))
    run(benchmark, lambda: BasicSweeper.split_arguments(overrides, BATCH), N // BATCH)


# --- the stages -------------------------------------------------------------------------


def test_stage_entrypoint_alone(benchmark: Any) -> None:
    """The entrypoint's own generator: the part of the cost that is the user's."""
    run(benchmark, lambda: bench_spaces.jobs(N), N)


def test_stage_format_jobs(benchmark: Any) -> None:
    """One job at a time (the road of an inner factor of a product)."""
    run(benchmark, lambda: format_jobs(bench_spaces.jobs(N), "bench", Formatter()), N)


def test_stage_format_batches(benchmark: Any) -> None:
    """A chunk at a time, into batches (the road of a sweep of one generator)."""
    make = lambda: format_batches(bench_spaces.jobs(N), BATCH, "bench", Formatter())  # noqa: E731
    run(benchmark, make, N // BATCH)


def test_stage_product_merge(benchmark: Any) -> None:
    """merged_product over a single formatted factor (an entrypoint returning a list)."""
    formatted = list(format_jobs(bench_spaces.jobs(N), "bench", Formatter()))
    run(benchmark, lambda: merged_product([lambda: formatted]), N)


def test_stage_product_of_three_factors(benchmark: Any) -> None:
    """merged_product over three factors, one per key (the command line's shape)."""
    formatter = Formatter()
    factors = [
        tuple(formatter.override(f"+{k}", f"+{k}={v}", v) for v in range(size))
        for k, size in (("a", 10), ("b", 10), ("c", N // 100))
    ]
    run(benchmark, lambda: merged_product([lambda f=f: f for f in factors]), N)


def test_stage_product_filtered_path(benchmark: Any) -> None:
    """lazy_product + merge_jobs over the same three factors: the road with filters."""
    formatter = Formatter()
    factors = [
        tuple(formatter.override(f"+{k}", f"+{k}={v}", v) for v in range(size))
        for k, size in (("a", 10), ("b", 10), ("c", N // 100))
    ]
    run(benchmark, lambda: merge_jobs(lazy_product(*(lambda f=f: f for f in factors))), N)


def test_stage_unique_jobs_dedup(benchmark: Any) -> None:
    """UniqueJobs over chunks of 1000 jobs: digests and the compact set."""
    jobs = list(floor_jobs())
    run(benchmark, lambda: batched(jobs, BATCH, UniqueJobs()), N // BATCH)


# --- the whole pipeline ---------------------------------------------------------------------


@pytest.fixture
def stream(monkeypatch: Any) -> Callable[..., Callable[[], Iterable[Any]]]:
    """The sweeper's stream of batches, as ``sweep()`` assembles it (nothing launched)."""
    monkeypatch.setenv("BENCH_N", str(N))

    def make(arguments: Sequence[str] = (), **given: Any) -> Callable[[], Iterable[Any]]:
        settings = Settings.of({"max_batch_size": BATCH, **given})
        parser = OverridesParser.create()
        return lambda: assemble(settings, list(arguments), parser, Adaptive(None, True)).batches

    return make


def test_pipeline(benchmark: Any, stream: Callable[..., Any]) -> None:
    """Generator entrypoint -> batches of 1000: everything before launch() but validation."""
    run(benchmark, stream(entrypoints=["bench_spaces.grid"]), N // BATCH)


def test_pipeline_dedup(benchmark: Any, stream: Callable[..., Any]) -> None:
    run(benchmark, stream(entrypoints=["bench_spaces.grid"], remove_duplicates=True), N // BATCH)


def test_pipeline_command_line(benchmark: Any, stream: Callable[..., Any]) -> None:
    """The same space from the command line, through this sweeper (no entrypoint)."""
    run(benchmark, stream(bench_spaces.command_line(N)), N // BATCH)
