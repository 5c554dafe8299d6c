"""The engine of :func:`hydra_plugins.hydra_python_sweeper.utils.merge_overrides`."""

from typing import Any, Callable, Iterable, Iterator, Sequence, Tuple, Union

from hydra_python_sweeper.space.product import Factor, lazy_product, merge_pairs
from hydra_python_sweeper.space.stages import is_one_shot

Pair = Tuple[str, Any]


def as_factor(source: Union[Iterable[Any], Callable[[], Iterable[Any]]], outermost: bool) -> Factor:
    """A source as a factor of :func:`lazy_product`: functions are called each pass,
    collections reused; a one-shot iterator is only allowed outermost."""
    if callable(source):
        return source
    if not is_one_shot(source):
        return lambda: source
    if not outermost:
        raise TypeError(
            f"merge_overrides: source {source!r} can be iterated only once, but only the "
            "first source is iterated once; pass a list or a function returning the iterable"
        )
    pending = [source]
    return lambda: pending.pop()


def merge_sources(sources: Sequence[Any]) -> Iterator[Tuple[Pair, ...]]:
    """The product of the sources, each combination merged into one job.

    >>> list(merge_sources([[{"a": 1}], lambda: [{"+a": 2, "b": 3}, {"c": 4}]]))
    [(('a', 1), ('b', 3)), (('a', 1), ('c', 4))]
    """
    factors = [as_factor(source, index == 0) for index, source in enumerate(sources)]
    return map(merge_pairs, lazy_product(*factors))
