"""The job pipeline: small generator stages, each lazy, none holding the sweep.

A sweep flows through them in this order::

    lazy_product(*factors)      one tuple of formatted jobs per combination
    -> merge_jobs               one list of override strings per job
    -> unique_jobs              (remove_duplicates) drop repeats, keep the first
    -> chunked(max_batch_size)  lists of jobs (more_itertools)
    -> number_batches           (first job number, batch) pairs
    -> launched by the sweeper, each batch validated just before its launch

A factor is a zero-argument callable returning an iterable of *formatted jobs*
(see :func:`format_jobs`): the product calls the outermost factor once and each
inner factor once per combination of the factors outside it, so a generator is
never asked for more than the job being built.
"""

from collections.abc import Iterator as IteratorABC
from collections.abc import Mapping
from typing import Any, Callable, Iterable, Iterator, List, Optional, Sequence, Tuple

import xxhash

from ._digests import DigestSet
from ._errors import EntrypointFailed, JobError, PythonSweeperError, describe_exception
from ._values import format_value

#: A job after formatting: ``(bare key, "key=value")`` pairs, one per distinct key.
FormattedJob = Tuple[Tuple[str, str], ...]
Factor = Callable[[], Iterable[Any]]


def bare_key(key: str) -> str:
    """The key without its ``+``, ``++`` or ``~`` prefix: what precedence compares.

    >>> bare_key("++db.user"), bare_key("~extra"), bare_key("db@backup")
    ('db.user', 'extra', 'db@backup')
    """
    return key.lstrip("+~")


def _pairs(job: Any) -> Iterable[Any]:
    if isinstance(job, Mapping):
        return job.items()
    if isinstance(job, (str, bytes)) or not isinstance(job, Iterable):
        raise JobError(f"a job must be a mapping or an iterable of (key, value) pairs, got {job!r}")
    return job


def format_job(job: Any) -> FormattedJob:
    """One job as ``(bare key, override)`` pairs; the first of two equal keys wins.

    >>> format_job({"lr": 0.1, "+tag": "a b"})
    (('lr', 'lr=0.1'), ('tag', "+tag='a b'"))
    >>> format_job([("a", 1), ("+a", 2)])
    (('a', 'a=1'),)
    """
    formatted = {}
    for pair in _pairs(job):
        try:
            key, value = pair
        except (TypeError, ValueError):
            raise JobError(f"{pair!r} is not a (key, value) pair") from None
        if type(key) is not str or not key:
            raise JobError(f"key {key!r} is not a non-empty string")
        bare = bare_key(key)
        if bare not in formatted:
            try:
                formatted[bare] = f"{key}={format_value(value)}"
            except JobError as error:
                raise JobError(error.reason, key) from None
    return tuple(formatted.items())


def format_jobs(jobs: Iterable[Any], source: str) -> Iterator[FormattedJob]:
    """Format each job of ``jobs``; errors name ``source`` and the job's number.

    >>> list(format_jobs([{"a": 1}, {"a": [2, 3]}], "demo"))
    [(('a', 'a=1'),), (('a', 'a=[2, 3]'),)]
    """
    index = 0  # the number of the job being generated or formatted
    try:
        for job in jobs:
            yield format_job(job)
            index += 1
    except JobError as error:
        raise error.at(source, index) from None
    except PythonSweeperError:
        raise
    except Exception as error:
        raise EntrypointFailed(
            f"{source} raised while generating job #{index}: {describe_exception(error)}"
        ) from error


def lazy_product(*factors: Factor) -> Iterator[Tuple[Any, ...]]:
    """The cartesian product of re-creatable iterables, first factor outermost.

    Unlike ``itertools.product``, nothing is materialised: the first factor is
    called once, every other factor once per combination of those before it.

    >>> list(lazy_product(lambda: "ab", lambda: range(2)))
    [('a', 0), ('a', 1), ('b', 0), ('b', 1)]
    >>> list(lazy_product())
    [()]
    """
    if not factors:
        yield ()
        return
    first, *rest = factors
    if not rest:
        for item in first():
            yield (item,)
        return
    for item in first():
        for tail in lazy_product(*rest):
            yield (item, *tail)


def merge_jobs(combinations: Iterable[Sequence[FormattedJob]]) -> Iterator[List[str]]:
    """Join each combination's parts into one job; on a shared key the first wins.

    >>> list(merge_jobs([((("a", "a=1"),), (("b", "b=2"), ("a", "+a=3")))]))
    [['a=1', 'b=2']]
    """
    for parts in combinations:
        if len(parts) == 1:
            yield [override for _, override in parts[0]]
            continue
        merged = {}
        for part in parts:
            for key, override in part:
                if key not in merged:
                    merged[key] = override
        yield list(merged.values())


def job_digest(job: Sequence[str]) -> bytes:
    """The xxh3-128 digest of a job's canonical form: its overrides, sorted.

    >>> job_digest(["a=1", "b=2"]) == job_digest(["b=2", "a=1"])
    True
    """
    return xxhash.xxh3_128_digest("\0".join(sorted(job)).encode())


def unique_jobs(
    jobs: Iterable[Sequence[str]], seen: Optional[DigestSet] = None
) -> Iterator[Sequence[str]]:
    """The jobs whose canonical form was not seen before, in order.

    >>> list(unique_jobs([["a=1", "b=2"], ["b=2", "a=1"], ["a=2"]]))
    [['a=1', 'b=2'], ['a=2']]
    """
    add = (DigestSet() if seen is None else seen).add
    for job in jobs:
        if add(job_digest(job)):
            yield job


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


def is_one_shot(iterable: Iterable[Any]) -> bool:
    """Whether ``iterable`` can be iterated only once (an iterator, a generator).

    >>> is_one_shot([1, 2]), is_one_shot(iter([1, 2])), is_one_shot(range(3))
    (False, True, False)
    """
    return isinstance(iterable, IteratorABC) or not hasattr(iterable, "__len__")
