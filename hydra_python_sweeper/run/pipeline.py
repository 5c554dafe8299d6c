"""The sweep's assembly: the stages of :mod:`space.stages` composed into one stream of batches.

:func:`assemble` reads the sweep's sources (the command line and ``params``, then each
entrypoint, :mod:`space.sources`), and puts them through the stages, in order::

    product -> filters -> merge -> dedup -> batches -> adaptive pacing -> numbers
            -> resume skipping -> this shard's batches

Nothing is drawn until the stream is iterated; everything that can be checked without
drawing a job (settings, entrypoint paths and arguments, the adaptive rules) is checked when
it is assembled.
"""

import logging
from typing import Any, Iterator, NamedTuple, Optional, Sequence, Tuple

from hydra.core.override_parser.overrides_parser import OverridesParser

from hydra_python_sweeper.journal.reader import JournalState
from hydra_python_sweeper.journal.resume_batches import resume_batches
from hydra_python_sweeper.messages import plural
from hydra_python_sweeper.run.adaptive import Adaptive
from hydra_python_sweeper.run.settings import Settings, resolved_list, written_list
from hydra_python_sweeper.space.format import Formatter, bare_key
from hydra_python_sweeper.space.product import lazy_product, merge_jobs, merged_product
from hydra_python_sweeper.space.shadowing import Shadowing
from hydra_python_sweeper.space.sources import (
    Entrypoint,
    Generated,
    command_line_factors,
    entrypoint_factors,
    filters,
    total_jobs,
)
from hydra_python_sweeper.space.stages import (
    Dropped,
    UniqueJobs,
    batched,
    filter_jobs,
    format_batches,
    number_batches,
    paced,
    select_shard,
)

log = logging.getLogger(__name__)


class Stream(NamedTuple):
    """The sweep's numbered batches, how many jobs they hold when that is known, and the
    counts of jobs the filters and ``remove_duplicates`` dropped (they grow as it runs)."""

    batches: Iterator[Tuple[int, Sequence[Sequence[str]]]]
    total: Optional[int]
    filtered: Optional[Dropped] = None
    duplicates: Optional[Dropped] = None
    #: Jobs that repeat an earlier one since a source's key replaced another's (kept).
    repeated: Optional[Dropped] = None
    #: Where a key of a job comes from, for messages (:class:`Origins`).
    origins: Optional["Origins"] = None

    def dropped(self) -> str:
        """What the filters and ``remove_duplicates`` dropped so far, for the logs.

        >>> stream = Stream(iter(()), None, Dropped(), None)
        >>> stream.filtered.count = 3
        >>> stream.dropped()
        ', 3 dropped by filters'
        """
        text = ""
        if self.filtered is not None:
            text += f", {self.filtered.count} dropped by filters"
        if self.duplicates is not None:
            text += f", {plural(self.duplicates.count, 'duplicate')} removed"
        if self.repeated is not None and self.repeated.count:
            text += (
                f", {plural(self.repeated.count, 'job')} the same as an earlier one (a replaced "
                "key; remove_duplicates drops them)"
            )
        return text


class Origins(NamedTuple):
    """Where a sweep's keys come from: the command line's keys, else its entrypoints.

    >>> Origins(frozenset({"lr"}), ("entrypoint 'sweeps.grid'",)).of("+lr")
    'the command line'
    >>> Origins(frozenset(), ("entrypoint 'sweeps.grid'",)).of("model.depth")
    "entrypoint 'sweeps.grid'"
    >>> Origins(frozenset(), ("entrypoint 'a'", "entrypoint 'b'")).of("x")
    "entrypoint 'a' or entrypoint 'b'"
    """

    command_line: frozenset  # type: ignore[type-arg]
    entrypoints: Tuple[str, ...]

    def of(self, key: str) -> str:
        if bare_key(key) in self.command_line or not self.entrypoints:
            return "the command line"
        return " or ".join(self.entrypoints)


def assemble(
    settings: Settings,
    arguments: Sequence[str],
    parser: OverridesParser,
    adaptive: Adaptive,
    journal: Optional[JournalState] = None,
) -> Stream:
    """The stream of this sweep's batches, not yet started: the command line's
    ``arguments`` and ``settings``' sources through the stages; ``adaptive`` receives the
    results an adaptive entrypoint sees; ``journal``, on a resume, what already ran.

    >>> from hydra_python_sweeper.run.adaptive import Adaptive
    >>> stream = assemble(
    ...     Settings(batch_size=2), ["+a=1,2,3"], OverridesParser.create(), Adaptive(None, True)
    ... )
    >>> stream.total, list(stream.batches)
    (3, [(0, [['+a=1'], ['+a=2']]), (2, [['+a=3']])])
    """
    size = settings.batch_size
    formatter = Formatter()  # this sweep's: its caches go with it
    overrides = parser.parse_overrides(settings.command_line(arguments))
    factors = command_line_factors(overrides, formatter)
    entries = resolved_list(settings.entrypoints, "entrypoints")
    written = written_list(settings.entrypoints)  # for messages: no secret resolved
    entrypoints = entrypoint_factors(entries, formatter, adaptive.results, written)
    if adaptive.check(factors, entrypoints, settings.num_shards) and size is None:
        size = 1  # it learns between batches: unset, a batch is one job (max_in_flight: N at once)
        name = getattr(entrypoints[0], "name", "the entrypoint")
        log.info(
            f"{name} takes results: batches of 1 job, each drawn once the results before it "
            "are in (hydra.sweeper.max_batch_size sets another size)"
        )
    # The command line is one source: each of its overrides reaches the job, as with
    # BasicSweeper; each entrypoint is a source of its own, the earlier winning a key.
    sources = (0,) * len(factors) + tuple(range(1, len(entrypoints) + 1))
    factors += entrypoints
    predicates = filters(resolved_list(settings.filters, "filters"))

    filtered = duplicates = None
    names = ["the command line", *(getattr(f, "name", "an entrypoint") for f in entrypoints)]
    shadowing = Shadowing(names, sources)
    keep: Any = shadowing.count
    if settings.remove_duplicates:
        duplicates = Dropped()
        keep = UniqueJobs(dropped=duplicates)
    chunks: Iterator[Any]
    if len(factors) == 1 and not predicates and isinstance(factors[0], Generated):
        # one generator and nothing else: drawn and written a chunk at a time
        only = factors[0]
        chunks = format_batches(only.jobs(), size, only.name, formatter, keep)
    elif predicates:
        filtered = Dropped()
        combinations = filter_jobs(lazy_product(*factors), predicates, sources, filtered)
        chunks = batched(merge_jobs(combinations, sources, shadowing.observe), size, keep)
    else:
        chunks = batched(merged_product(factors, sources, shadowing.observe), size, keep)
    if adaptive.active:
        if journal is not None and adaptive.journal is not None:
            adaptive.replay()
        chunks = paced(chunks, adaptive.drawing)
    batches = number_batches(chunks)

    total = None if predicates or settings.remove_duplicates else total_jobs(factors)
    if journal is not None:
        batches = resume_batches(batches, journal, size)
        total = None
    if settings.sharded:
        assert size is not None
        batches = select_shard(batches, settings.shard_index, settings.num_shards, size)
        if total is not None:
            total = shard_jobs(total, size, settings.shard_index, settings.num_shards)
    repeated = None if settings.remove_duplicates else shadowing.duplicates
    origins = Origins(
        frozenset(bare_key(o.key_or_group) for o in overrides),
        tuple(str(name) for name in names[1:]),
    )
    return Stream(batches, total, filtered, duplicates, repeated, origins)


def takes_results(settings: Settings) -> bool:
    """Whether the sweep of ``settings`` is adaptive (its first entrypoint takes results),
    known before its stream is assembled.

    >>> takes_results(Settings(entrypoints=["hydra_python_sweeper.space.results.Results"]))
    False
    """
    entries = resolved_list(settings.entrypoints, "entrypoints")
    return bool(entries) and Entrypoint(entries[0]).adaptive


def shard_jobs(total: int, size: int, index: int, count: int) -> int:
    """How many of ``total`` jobs, in batches of ``size`` dealt round-robin, shard ``index`` gets.

    >>> [shard_jobs(10, 3, i, 2) for i in range(2)]  # batches 3 3 3 1: shard 0 gets 3+3
    [6, 4]
    """
    batches = -(-total // size)
    return sum(min(size, total - k * size) for k in range(index, batches, count))
