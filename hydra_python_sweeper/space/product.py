"""The product of a sweep's sources, merged into jobs: the first source wins a key.

The sources (the command line, then each entrypoint) are *factors*: zero-argument callables
returning an iterable of formatted jobs. :func:`lazy_product` calls the outermost once and
each inner one once per combination of those outside it, so a generator is never asked for
more than the job being built; :func:`merge_jobs` joins each combination into one job,
dropping a later source's override of a key an earlier source set (:func:`merge_plan`)::

    >>> formatter = Formatter()
    >>> outer = lambda: [formatter.job({"lr": 0.1}), formatter.job({"lr": 0.2})]
    >>> inner = lambda: [formatter.job({"+lr": 1, "depth": 2})]
    >>> list(merged_product([outer, inner]))
    [['lr=0.1', 'depth=2'], ['lr=0.2', 'depth=2']]
"""

import itertools
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

from hydra_python_sweeper.space.format import (
    CACHE_SIZE,
    FormattedJob,
    Formatter,  # noqa: F401  (the examples)
    Shape,
    bare_key,
    keys_and_values,
)

#: A source of jobs for :func:`lazy_product`: called for each pass over it.
Factor = Callable[[], Iterable[Any]]
#: Shown a combination's shapes, its merge plan (which overrides are kept) and its
#: overrides laid end to end, the first time a plan that drops an override is made.
Observer = Callable[[Sequence[Shape], Tuple[bool, ...], List[str]], None]


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
    *outer, inner = factors
    if not outer:
        yield from zip(inner())
        return
    for prefix in lazy_product(*outer):
        for item in inner():
            yield (*prefix, item)


def merged_product(
    factors: Sequence[Factor],
    sources: Optional[Sequence[int]] = None,
    observe: Optional[Observer] = None,
) -> Iterator[List[str]]:
    """:func:`merge_jobs` of :func:`lazy_product`, merged a level at a time: each combination
    of the outer factors is joined once, and each job of the innermost factor joins it by a
    list concatenation, its :func:`merge_plan` computed once per shape (and shown to
    ``observe`` when it drops an override).

    >>> formatter = Formatter()
    >>> outer = lambda: [formatter.job({"a": 1}), formatter.job({"a": 2})]
    >>> inner = lambda: [formatter.job({"+a": 3, "b": 4})]
    >>> list(merged_product([outer, inner]))
    [['a=1', 'b=4'], ['a=2', 'b=4']]
    """
    if not factors:
        yield []
        return
    *outer, inner = factors
    for prefix in lazy_product(*outer):
        shapes = [part[0] for part in prefix]
        joined = [override for part in prefix for override in part[1]]
        plans: Dict[int, Optional[Tuple[bool, ...]]] = {}
        for shape, overrides, _ in inner():
            try:
                plan = plans[shape.uid]
            except KeyError:
                if len(plans) >= CACHE_SIZE:
                    plans.clear()
                plan = plans[shape.uid] = merge_plan([*shapes, shape], sources)
                if plan is not None and observe is not None:
                    observe([*shapes, shape], plan, joined + overrides)
            merged = joined + overrides
            yield merged if plan is None else list(itertools.compress(merged, plan))


def merge_jobs(
    combinations: Iterable[Sequence[FormattedJob]],
    sources: Optional[Sequence[int]] = None,
    observe: Optional[Observer] = None,
) -> Iterator[List[str]]:
    """Join each combination's parts into one job; see :func:`merge_plan` for what is kept
    (and :class:`MergePlans` for ``observe``).

    >>> a, b = Formatter().job({"a": 1}), Formatter().job({"b": 2, "+a": 3})
    >>> list(merge_jobs([(a, b), (b, a)]))
    [['a=1', 'b=2'], ['b=2', '+a=3']]
    >>> list(merge_jobs([(a, b)], sources=(0, 0)))  # one source: every override passes
    [['a=1', 'b=2', '+a=3']]
    """
    plan_of = MergePlans(sources, observe)
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
    >>> plans([Formatter().job({"a": 1}), Formatter().job({"+a": 2, "b": 3})])
    (True, False, True)
    """

    __slots__ = ("cache", "observe", "sources")

    def __init__(
        self, sources: Optional[Sequence[int]] = None, observe: Optional[Observer] = None
    ) -> None:
        self.sources = sources
        self.observe = observe  # shown each new plan that drops an override
        self.cache: Dict[Tuple[int, ...], Optional[Tuple[bool, ...]]] = {}

    def __call__(self, parts: Sequence[FormattedJob]) -> Optional[Tuple[bool, ...]]:
        key = tuple([part[0].uid for part in parts])
        try:
            return self.cache[key]
        except KeyError:
            if len(self.cache) >= CACHE_SIZE:
                self.cache.clear()
            shapes = [part[0] for part in parts]
            plan = self.cache[key] = merge_plan(shapes, self.sources)
            if plan is not None and self.observe is not None:
                self.observe(shapes, plan, [o for part in parts for o in part[1]])
            return plan


def merge_plan(
    shapes: Sequence[Shape], sources: Optional[Sequence[int]] = None
) -> Optional[Tuple[bool, ...]]:
    """Which of the parts' kept overrides, laid end to end, a merged job keeps (``None``: all).

    ``sources[i]`` is the source of part ``i`` (by default, each part is its own source).
    A key (without its prefix) set by an earlier source drops a later source's override
    of it; within one source every override is kept, as Hydra applies them in order.

    >>> shapes = [Formatter().shape(keys) for keys in [("+x",), ("x",), ("x", "y")]]
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

    >>> job_values([Formatter().job({"+a": 1}), Formatter().job({"a": 2, "b": [3]})])
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
