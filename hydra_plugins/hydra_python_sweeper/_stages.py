"""The job pipeline: small generator stages, each lazy, none holding the sweep.

A sweep flows through them in this order::

    lazy_product(*factors)      one tuple of formatted jobs per combination
    -> filter_jobs              (filters) the combinations every predicate keeps
    -> merge_jobs               one list of override strings per job
    -> unique_jobs              (remove_duplicates) drop repeats, keep the first
    -> chunked(max_batch_size)  lists of jobs (more_itertools)
    -> paced                    (adaptive entrypoints) what the generator sees at each draw
    -> number_batches           (first job number, batch) pairs
    -> resume_batches           (resume; in _journal) what the journal says is left to run
    -> select_shard             (num_shards > 1) this shard's batches, round-robin
    -> launched by the sweeper, each batch validated just before its launch

A factor is a zero-argument callable returning an iterable of *formatted jobs*
(see :func:`format_jobs`): the product calls the outermost factor once and each
inner factor once per combination of the factors outside it, so a generator is
never asked for more than the job being built.
"""

import itertools
import operator
from collections.abc import Iterator as IteratorABC
from collections.abc import Mapping
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Set,
    Tuple,
)

import xxhash
from hydra.core.override_parser.overrides_parser import OverridesParser

from ._digests import DigestSet
from ._errors import (
    EntrypointFailed,
    FilterFailed,
    JobError,
    PythonSweeperError,
    describe_exception,
)
from ._markers import DELETE
from ._values import format_value


class Shape(NamedTuple):
    """What a job's keys alone decide, computed once per distinct tuple of keys.

    ``keys``: every pair's key, as written; ``bares``: the bare keys of the pairs kept;
    ``prefixes``: their ``"key="``; ``keep``: which pairs are kept (``None``: all; a
    repeated key keeps its first pair); ``uid``: a number of its own, for cache keys.
    """

    keys: Tuple[str, ...]
    bares: Tuple[str, ...]
    prefixes: Tuple[str, ...]
    keep: Optional[Tuple[bool, ...]]
    uid: int


#: A job after formatting: its shape, the overrides of the pairs it keeps, and the values
#: of all its pairs (aligned with ``shape.keys``, for filters).
FormattedJob = Tuple[Shape, List[str], Iterable[Any]]
Factor = Callable[[], Iterable[Any]]

_CACHE_SIZE = 4096
_shapes: Dict[Tuple[Any, ...], Shape] = {}
_uids = itertools.count()


def bare_key(key: str) -> str:
    """The key without its ``+``, ``++`` or ``~`` prefix: what precedence compares.

    >>> bare_key("++db.user"), bare_key("~extra"), bare_key("db@backup")
    ('db.user', 'extra', 'db@backup')
    """
    return key.lstrip("+~")


def job_shape(keys: Tuple[Any, ...]) -> Shape:
    """The shape of a job with these keys (cached); :class:`JobError` for a bad key.

    >>> job_shape(("+a", "b", "a")).bares, job_shape(("+a", "b", "a")).keep
    (('a', 'b'), (True, True, False))
    """
    try:
        return _shapes[keys]
    except (KeyError, TypeError):
        pass
    bares: Dict[str, str] = {}
    keep = []
    for key in keys:
        if key not in _checked_keys:
            check_key(key)
        bare = bare_key(key)
        keep.append(bare not in bares)
        bares.setdefault(bare, f"{key}=")
    kept = None if all(keep) else tuple(keep)
    shape = Shape(keys, tuple(bares), tuple(bares.values()), kept, next(_uids))
    if len(_shapes) >= _CACHE_SIZE:
        _shapes.clear()
        _formatters.clear()
        _uses.clear()
    _shapes[keys] = shape
    return shape


_checked_keys: Set[str] = set()


def check_key(key: Any) -> None:
    """:class:`JobError` unless ``key`` is an override key in Hydra's grammar, as written.

    >>> check_key("+db@backup.port")
    >>> check_key("+a b")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hydra_plugins.hydra_python_sweeper._errors.JobError: key '+a b' is not an override key ...
    """
    if type(key) is not str or not key:
        raise JobError(f"key {key!r} is not a non-empty string")
    try:
        parsed = OverridesParser.create().parse_override(f"{key}=0").get_key_element()
    except Exception as error:
        parsed, reason = None, str(error).strip().splitlines()[0]
    else:
        reason = f"Hydra reads it as {parsed!r}"
    if parsed != key:
        raise JobError(
            f"key {key!r} is not an override key in Hydra's grammar ({reason}): a key is a "
            "dotted path of names (a-z, 0-9, _, -), with an optional +, ++ or ~ prefix and "
            "an optional @package",
            key,
        )
    if len(_checked_keys) >= 16 * _CACHE_SIZE:
        _checked_keys.clear()
    _checked_keys.add(key)


def keys_and_values(job: Any) -> Tuple[Tuple[Any, ...], Iterable[Any]]:
    """A job's keys and values; :class:`JobError` if it is not a mapping or pairs.

    >>> keys_and_values([("a", 1), ("b", 2)])
    (('a', 'b'), [1, 2])
    """
    if type(job) is dict:
        return tuple(job), job.values()
    if isinstance(job, Mapping):
        return tuple(job.keys()), list(job.values())
    if isinstance(job, (str, bytes)) or not isinstance(job, Iterable):
        raise JobError(f"a job must be a mapping or an iterable of (key, value) pairs, got {job!r}")
    keys, values = [], []
    for pair in job:
        try:
            key, value = pair
        except (TypeError, ValueError):
            raise JobError(f"{pair!r} is not a (key, value) pair") from None
        keys.append(key)
        values.append(value)
    return tuple(keys), values


def format_job(job: Any) -> FormattedJob:
    """One job (a mapping or ``(key, value)`` pairs) as its shape and overrides.

    >>> shape, overrides, _ = format_job({"lr": 0.1, "+tag": "a,b", "+lr": 2})
    >>> shape.bares, overrides
    (('lr', 'tag'), ['lr=0.1', "+tag='a,b'"])
    """
    keys, values = keys_and_values(job)
    shape = job_shape(keys)
    try:
        formatter = _formatters.get(shape.uid)
        if formatter is None:
            formatter = _formatter_for(shape)
        overrides = formatter(values)
    except JobError as error:
        raise JobError(error.reason, _failing_key(shape, values)) from None
    return shape, overrides, values


def format_values(shape: Shape, values: Iterable[Any]) -> List[str]:
    """The overrides of the pairs ``shape`` keeps, given all the job's values.

    >>> format_values(job_shape(("a", "+b", "+a")), [1, "x/y", 3])
    ['a=1', '+b=x/y']
    """
    kept = values if shape.keep is None else itertools.compress(values, shape.keep)
    overrides = []
    # A loop, not a comprehension: faster before Python 3.12. Ints, the most common
    # value, are written inline, exactly as format_value would.
    for prefix, value in zip(shape.prefixes, kept):
        if type(value) is int:
            overrides.append(f"{prefix}{value}")
        elif value is DELETE and prefix[0] == "~":
            overrides.append(prefix[:-1])  # ~key: delete it, whatever its value
        else:
            overrides.append(prefix + format_value(value))
    return overrides


#: Formatters compiled for the shapes seen often, by shape uid; how often others were seen.
_formatters: Dict[int, Callable[[Iterable[Any]], List[str]]] = {}
_uses: Dict[int, int] = {}
_COMPILE_AFTER = 8


def _formatter_for(shape: Shape) -> Callable[[Iterable[Any]], List[str]]:
    """:func:`format_values` for this shape; compiled once the shape has been seen often."""
    uses = _uses.get(shape.uid, 0) + 1
    if uses < _COMPILE_AFTER:
        _uses[shape.uid] = uses
        return lambda values: format_values(shape, values)
    _uses.pop(shape.uid, None)
    formatter = _formatters[shape.uid] = compile_formatter(shape)
    return formatter


def compile_formatter(shape: Shape) -> Callable[[Iterable[Any]], List[str]]:
    """A function equal to ``format_values(shape, values)``, compiled for this shape.

    Like the methods :mod:`dataclasses` writes, its source is generated: it unpacks the
    values and builds the list in one expression, with no loop, so formatting a job costs
    about a third less. The keys reach it as default arguments, never as source text.

    >>> format = compile_formatter(job_shape(("a", "+b", "+a")))
    >>> format([1, "x/y", 3])
    ['a=1', '+b=x/y']
    """
    keep = shape.keep or (True,) * len(shape.keys)
    names = [f"v{i}" for i in range(len(keep))]
    kept = [name for name, kept in zip(names, keep) if kept]
    items = [
        f'f"{{p{i}}}{{{v}}}" if type({v}) is int else p{i} + format_value({v})'
        if prefix[0] != "~"
        else f'f"{{p{i}}}{{{v}}}" if type({v}) is int else '
        f"p{i}[:-1] if {v} is DELETE else p{i} + format_value({v})"
        for i, (v, prefix) in enumerate(zip(kept, shape.prefixes))
    ]
    defaults = "".join(f", p{i}={prefix!r}" for i, prefix in enumerate(shape.prefixes))
    unpack = f"    {', '.join(names)}, = values\n" if names else ""
    source = f"def format_values(values{defaults}):\n{unpack}    return [{', '.join(items)}]\n"
    namespace: Dict[str, Any] = {"format_value": format_value, "DELETE": DELETE}
    exec(source, namespace)
    return namespace["format_values"]  # type: ignore[no-any-return]


def format_override(key: str, override: str, value: Any) -> FormattedJob:
    """A job of one override already written (a command-line value, for instance).

    >>> format_override("+a", "+a=1", 1)[1]
    ['+a=1']
    """
    return job_shape((key,)), [override], (value,)


def _failing_key(shape: Shape, values: Iterable[Any]) -> Optional[str]:
    """The key of the first pair ``shape`` keeps whose value cannot be written."""
    pairs: Iterable[Tuple[str, Any]] = zip(shape.keys, values)
    if shape.keep is not None:
        pairs = itertools.compress(pairs, shape.keep)
    for key, value in pairs:
        if value is DELETE and key[0] == "~":
            continue
        try:
            format_value(value)
        except JobError:
            return key
    return None


def format_jobs(jobs: Iterable[Any], source: str) -> Iterator[FormattedJob]:
    """Format each job of ``jobs``; errors name ``source`` and the job's number.

    >>> [overrides for _, overrides, _ in format_jobs([{"a": 1}, {"a": [2, 3]}], "demo")]
    [['a=1'], ['a=[2, 3]']]
    """
    # The jobs are numbered by a C-level counter, which the error handlers read: no
    # Python code runs per job here but format_job.
    counter = itertools.count()
    try:
        yield from map(format_job, map(_second, zip(counter, jobs)))
    except JobError as error:
        raise error.at(source, next(counter) - 1) from None
    except PythonSweeperError:
        raise
    except Exception as error:
        index = next(counter) - 1
        raise EntrypointFailed(
            f"{source} raised while generating job #{index}: {describe_exception(error)}"
        ) from error


_second = operator.itemgetter(1)


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


def merge_jobs(
    combinations: Iterable[Sequence[FormattedJob]], sources: Optional[Sequence[int]] = None
) -> Iterator[List[str]]:
    """Join each combination's parts into one job; see :func:`merge_plan` for what is kept.

    >>> a, b = format_job({"a": 1}), format_job({"b": 2, "+a": 3})
    >>> list(merge_jobs([(a, b), (b, a)]))
    [['a=1', 'b=2'], ['b=2', '+a=3']]
    >>> list(merge_jobs([(a, b)], sources=(0, 0)))  # one source: every override passes
    [['a=1', 'b=2', '+a=3']]
    """
    plan_of = MergePlans(sources)
    for parts in combinations:
        if len(parts) == 1:
            yield parts[0][1]
            continue
        plan = plan_of(parts)
        overrides = [override for part in parts for override in part[1]]
        yield overrides if plan is None else list(itertools.compress(overrides, plan))


class MergePlans:
    """:func:`merge_plan` of a combination's shapes, given ``sources``, computed once per
    distinct tuple of shapes: a bounded cache, owned by the stage that calls it.

    >>> plans = MergePlans()
    >>> plans([format_job({"a": 1}), format_job({"+a": 2, "b": 3})])
    (True, False, True)
    """

    __slots__ = ("cache", "sources")

    def __init__(self, sources: Optional[Sequence[int]] = None) -> None:
        self.sources = sources
        self.cache: Dict[Tuple[int, ...], Optional[Tuple[bool, ...]]] = {}

    def __call__(self, parts: Sequence[FormattedJob]) -> Optional[Tuple[bool, ...]]:
        key = tuple([part[0].uid for part in parts])
        try:
            return self.cache[key]
        except KeyError:
            if len(self.cache) >= _CACHE_SIZE:
                self.cache.clear()
            plan = self.cache[key] = merge_plan([part[0] for part in parts], self.sources)
            return plan


def merge_plan(
    shapes: Sequence[Shape], sources: Optional[Sequence[int]] = None
) -> Optional[Tuple[bool, ...]]:
    """Which of the parts' kept overrides, laid end to end, a merged job keeps (``None``: all).

    ``sources[i]`` is the source of part ``i`` (by default, each part is its own source).
    A key (without its prefix) set by an earlier source drops a later source's override
    of it; within one source every override is kept, as Hydra applies them in order.

    >>> shapes = [job_shape(("+x",)), job_shape(("x",)), job_shape(("x", "y"))]
    >>> merge_plan(shapes), merge_plan(shapes, (0, 0, 1))
    ((True, False, False, True), (True, True, False, True))
    """
    earlier: Set[str] = set()
    current: Set[str] = set()
    keep = []
    for index, shape in enumerate(shapes):
        if index and (sources is None or sources[index] != sources[index - 1]):
            earlier |= current
            current = set()
        for bare in shape.bares:
            keep.append(bare not in earlier)
            current.add(bare)
    return None if all(keep) else tuple(keep)


def merge_pairs(parts: Sequence[Any]) -> Tuple[Tuple[Any, Any], ...]:
    """The pairs of several jobs as one job; on a key two share (without its prefix),
    the first wins.

    >>> merge_pairs([{"a": 1}, [("+a", 2), ("b", 3)]])
    (('a', 1), ('b', 3))
    """
    merged: Dict[Any, Tuple[Any, Any]] = {}
    for job in parts:
        for key, value in zip(*keys_and_values(job)):
            merged.setdefault(bare_key(key) if isinstance(key, str) else key, (key, value))
    return tuple(merged.values())


def job_values(parts: Sequence[FormattedJob], plans: Optional[MergePlans] = None) -> Dict[str, Any]:
    """A combination's pairs as ``{key as written: value}``: the pairs that
    :func:`merge_jobs` keeps, given the same sources (those of ``plans``; by default, each
    part is its own source).

    >>> job_values([format_job({"+a": 1}), format_job({"a": 2, "b": [3]})])
    {'+a': 1, 'b': [3]}
    """
    pairs: List[Tuple[str, Any]] = []
    for shape, _, values in parts:
        kept: Iterable[Tuple[str, Any]] = zip(shape.keys, values)
        if shape.keep is not None:
            kept = itertools.compress(kept, shape.keep)
        pairs.extend(kept)
    plan = (plans or MergePlans())(parts)
    return dict(pairs if plan is None else itertools.compress(pairs, plan))


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

    >>> jobs = [(format_job({"a": i}),) for i in range(4)]
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


def unique_jobs(
    jobs: Iterable[Sequence[str]],
    seen: Optional[DigestSet] = None,
    dropped: Optional[Dropped] = None,
) -> Iterator[Sequence[str]]:
    """The jobs whose canonical form was not seen before, in order.

    >>> list(unique_jobs([["a=1", "b=2"], ["b=2", "a=1"], ["a=2"]]))
    [['a=1', 'b=2'], ['a=2']]
    """
    add = (DigestSet() if seen is None else seen).add
    for job in jobs:
        if add(job_digest(job)):
            yield job
        elif dropped is not None:
            dropped.count += 1


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
