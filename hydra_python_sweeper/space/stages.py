"""The job pipeline: small generator stages, each lazy, none holding the sweep.

A sweep flows through them in this order::

    lazy_product(*factors)      one tuple of formatted jobs per combination
    -> filter_jobs              (filters) the combinations every predicate keeps
    -> merge_jobs               one list of override strings per job
                                (without filters: merged_product, the two at once)
    -> batched(size, keep)      lists of jobs, each filled a chunk at a time;
                                (remove_duplicates) keep = UniqueJobs, the new ones
    -> paced                    (adaptive entrypoints) what the generator sees at each draw
    -> number_batches           (first job number, batch) pairs
    -> resume_batches           (resume; in _reader)   what the journal says is left to run
    -> select_shard             (num_shards > 1) this shard's batches, round-robin
    -> launched by the sweeper, each batch validated just before its launch

A sweep of one generator entrypoint and nothing else (the common large sweep) takes a
shorter road to the same batches: :func:`format_batches` draws its jobs a chunk at a
time and writes each chunk in one call (see :class:`~hydra_python_sweeper.space.format.Formatter`).

A factor is a zero-argument callable returning an iterable of *formatted jobs*
(see :func:`format_jobs`): the product calls the outermost factor once and each
inner factor once per combination of the factors outside it, so a generator is
never asked for more than the job being built.
"""

import itertools
import operator
from collections.abc import Iterator as IteratorABC
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
)

import xxhash

from hydra_python_sweeper.errors import (
    EntrypointFailed,
    FilterFailed,
    JobError,
    PythonSweeperError,
    describe_exception,
)
from hydra_python_sweeper.space.digests import DigestSet
from hydra_python_sweeper.space.format import FormattedJob, Formatter
from hydra_python_sweeper.space.product import MergePlans, job_values

Keep = Callable[[List[Any]], List[Any]]


def format_jobs(
    jobs: Iterable[Any], source: str, formatter: Optional[Formatter] = None
) -> Iterator[FormattedJob]:
    """Format each job of ``jobs``; errors name ``source`` and the job's number.

    >>> [overrides for _, overrides, _ in format_jobs([{"a": 1}, {"a": [2, 3]}], "demo")]
    [['a=1'], ['a=[2, 3]']]
    """
    # The jobs are numbered by a C-level counter, which the error handlers read: no
    # Python code runs per job here but the formatter's.
    counter = itertools.count()
    try:
        yield from map((formatter or Formatter()).job, map(_second, zip(counter, jobs)))
    except JobError as error:
        raise error.at(source, next(counter) - 1) from None
    except PythonSweeperError:
        raise
    except Exception as error:
        raise _failed(source, next(counter) - 1, error) from error


def format_batches(
    jobs: Iterable[Any],
    size: Optional[int],
    source: str,
    formatter: Formatter,
    keep: Optional[Keep] = None,
) -> Iterator[List[List[str]]]:
    """:func:`batched` over the overrides of ``jobs``, drawn and written a chunk at a time
    (never further than the batch being filled lacks); errors name ``source`` and the job.

    >>> list(format_batches(({"a": i} for i in range(5)), 2, "demo", Formatter()))
    [[['a=0'], ['a=1']], [['a=2'], ['a=3']], [['a=4']]]
    """
    iterator = iter(jobs)
    drawn = 0

    def draw(count: Optional[int]) -> List[List[str]]:
        nonlocal drawn
        chunk: List[Any] = []
        try:
            chunk.extend(itertools.islice(iterator, count))  # keeps what came before an error
        except PythonSweeperError:
            raise
        except Exception as error:
            raise _failed(source, drawn + len(chunk), error) from error
        out: List[List[str]] = []
        try:
            formatter.chunk(chunk, out)
        except JobError as error:
            raise error.at(source, drawn + len(out)) from None
        drawn += len(chunk)
        return out

    return filled(draw, size, keep)


def _failed(source: str, index: int, error: Exception) -> EntrypointFailed:
    return EntrypointFailed(
        f"{source} raised while generating job #{index}: {describe_exception(error)}"
    )


_second = operator.itemgetter(1)


def batched(
    items: Iterable[Any], size: Optional[int], keep: Optional[Keep] = None
) -> Iterator[List[Any]]:
    """Lists of ``size`` items (``None``: one list of all), drawn a chunk at a time and
    never further than the list being filled lacks; see :func:`filled` for ``keep``.

    >>> list(batched(range(7), 3)), list(batched(range(7), 3, lambda c: [x for x in c if x % 3]))
    ([[0, 1, 2], [3, 4, 5], [6]], [[1, 2, 4], [5]])
    """
    iterator = iter(items)
    return filled(lambda count: list(itertools.islice(iterator, count)), size, keep)


def filled(
    draw: Callable[[Optional[int]], List[Any]], size: Optional[int], keep: Optional[Keep] = None
) -> Iterator[List[Any]]:
    """Lists of ``size`` items (``None``: one list of all), each filled by calls to
    ``draw(n)`` (at most ``n`` items, what the list lacks; none: the end); ``keep`` turns
    each chunk drawn into the items it keeps (the new ones, say), and drawing goes on until
    the list is full.

    >>> items = iter("abcde")
    >>> list(filled(lambda n: list(itertools.islice(items, n)), 2))
    [['a', 'b'], ['c', 'd'], ['e']]
    """
    batch: List[Any] = []
    while True:
        chunk = draw(size - len(batch) if size else None)
        if not chunk:
            if batch:
                yield batch
            return
        batch += chunk if keep is None else keep(chunk)
        if size is not None and len(batch) >= size:
            yield batch
            batch = []


class Dropped:
    """How many jobs a stage dropped: filled in by :func:`filter_jobs` and :func:`unique_jobs`
    as the stream runs, read by the sweeper's summary."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


def filter_jobs(
    combinations: Iterable[Sequence[FormattedJob]],
    predicates: Sequence[Tuple[str, Callable[[Dict[str, Any]], Any]]],
    sources: Optional[Sequence[int]] = None,
    dropped: Optional[Dropped] = None,
) -> Iterator[Sequence[FormattedJob]]:
    """The combinations that every named predicate keeps, given :func:`job_values`.

    A predicate returns ``True`` or ``False`` (a numpy bool too); anything else, ``None``
    above all (a forgotten ``return``), is a :class:`FilterFailed` naming it.

    >>> jobs = [(Formatter().job({"a": i}),) for i in range(4)]
    >>> [parts[0][1] for parts in filter_jobs(jobs, [("even", lambda j: j["a"] % 2 == 0)])]
    [['a=0'], ['a=2']]
    """
    plans = MergePlans(sources)
    for parts in combinations:
        values = job_values(parts, plans)
        for name, predicate in predicates:
            try:
                keep = predicate(values)
            except Exception as error:
                raise FilterFailed(
                    f"filter '{name}' raised on the job {values!r:.200}: "
                    f"{describe_exception(error)}"
                ) from error
            if keep is not True and keep is not False:
                keep = _as_bool(keep, name, values)
            if not keep:
                if dropped is not None:
                    dropped.count += 1
                break
        else:
            yield parts


def _as_bool(result: Any, name: str, values: Dict[str, Any]) -> bool:
    """A filter's result that is not ``True`` or ``False``: a numpy bool, or an error."""
    if type(result).__name__ in ("bool_", "bool"):  # numpy.bool_ (numpy.bool in numpy 2)
        return bool(result)
    hint = " (a missing `return`?)" if result is None else ""
    raise FilterFailed(
        f"filter '{name}' returned {result!r:.80} on the job {values!r:.200}: "
        f"a filter must return True or False{hint}"
    )


def job_digest(job: Sequence[str]) -> bytes:
    """The xxh3-128 digest of a job's canonical form: its overrides, sorted.

    >>> job_digest(["a=1", "b=2"]) == job_digest(["b=2", "a=1"])
    True
    """
    return xxhash.xxh3_128_digest("\0".join(sorted(job)).encode())


def job_digests(jobs: Iterable[Sequence[str]]) -> Iterator[bytes]:
    """:func:`job_digest` of each job, computed by C-level maps over the whole iterable.

    >>> list(job_digests([["a=1", "b=2"]])) == [job_digest(["b=2", "a=1"])]
    True
    """
    return map(xxhash.xxh3_128_digest, map(str.encode, map("\0".join, map(sorted, jobs))))


class UniqueJobs:
    """Called on a chunk of jobs, returns those whose canonical form it has not seen
    before, in order (``remove_duplicates``, as the ``keep`` of :func:`batched`); counts
    the others in ``dropped``.

    >>> keep = UniqueJobs()
    >>> keep([["a=1", "b=2"], ["b=2", "a=1"], ["a=2"]]), keep([["a=2"], ["a=3"]])
    ([['a=1', 'b=2'], ['a=2']], [['a=3']])
    """

    __slots__ = ("add_all", "dropped")

    def __init__(self, seen: Optional[DigestSet] = None, dropped: Optional[Dropped] = None):
        self.add_all = (DigestSet() if seen is None else seen).add_all
        self.dropped = dropped

    def __call__(self, jobs: List[Sequence[str]]) -> List[Sequence[str]]:
        kept = list(itertools.compress(jobs, self.add_all(list(job_digests(jobs)))))
        if self.dropped is not None:
            self.dropped.count += len(jobs) - len(kept)
        return kept


def unique_jobs(
    jobs: Iterable[Sequence[str]],
    seen: Optional[DigestSet] = None,
    dropped: Optional[Dropped] = None,
) -> Iterator[Sequence[str]]:
    """:class:`UniqueJobs` one job at a time: the jobs not seen before, in order.

    >>> list(unique_jobs([["a=1", "b=2"], ["b=2", "a=1"], ["a=2"]]))
    [['a=1', 'b=2'], ['a=2']]
    """
    keep = UniqueJobs(seen, dropped)
    for job in jobs:
        yield from keep([job])


def number_batches(
    batches: Iterable[Sequence[Any]], start: int = 0
) -> Iterator[Tuple[int, Sequence[Any]]]:
    """Pair each batch with the number of its first job; numbers run on.

    >>> list(number_batches([["a", "b"], ["c"]]))
    [(0, ['a', 'b']), (2, ['c'])]
    """
    for batch in batches:
        yield start, batch
        start += len(batch)


def paced(batches: Iterable[Any], before: Callable[[int], Any]) -> Iterator[Any]:
    """``batches``, with ``before(k)`` called just before the ``k``-th (from 0) is drawn (and
    once more before the draw that finds the end).

    >>> calls = []
    >>> list(paced(iter("ab"), calls.append)), calls
    (['a', 'b'], [0, 1, 2])
    """
    iterator = iter(batches)
    for k in itertools.count():
        before(k)
        try:
            batch = next(iterator)
        except StopIteration:
            return
        yield batch


def select_shard(
    batches: Iterable[Tuple[int, Sequence[Any]]], index: int, count: int, size: int
) -> Iterator[Tuple[int, Sequence[Any]]]:
    """Shard ``index`` of ``count``: the batches of jobs ``k * size`` to ``(k + 1) * size - 1``
    go to shard ``k % count``.

    >>> [start for start, _ in select_shard([(0, "ab"), (2, "cd"), (4, "e")], 1, 2, 2)]
    [2]
    """
    for start, batch in batches:
        if start // size % count == index:
            yield start, batch


def is_one_shot(iterable: Iterable[Any]) -> bool:
    """Whether ``iterable`` can be iterated only once (an iterator, a generator).

    >>> is_one_shot([1, 2]), is_one_shot(iter([1, 2])), is_one_shot(range(3))
    (False, True, False)
    """
    return isinstance(iterable, IteratorABC) or not hasattr(iterable, "__len__")
