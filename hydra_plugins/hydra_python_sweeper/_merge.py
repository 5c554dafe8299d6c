"""The engine of :func:`hydra_plugins.hydra_python_sweeper.utils.merge_overrides`."""

from typing import Any, Callable, Dict, Iterable, Iterator, Sequence, Tuple, Union

from ._stages import Factor, bare_key, is_one_shot, keys_and_values, lazy_product

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


def merge_pairs(parts: Sequence[Any]) -> Tuple[Pair, ...]:
    """The pairs of several jobs as one job; on a shared key the first wins.

    >>> merge_pairs([{"a": 1}, [("+a", 2), ("b", 3)]])
    (('a', 1), ('b', 3))
    """
    merged: Dict[Any, Pair] = {}
    for job in parts:
        for key, value in zip(*keys_and_values(job)):
            merged.setdefault(bare_key(key) if isinstance(key, str) else key, (key, value))
    return tuple(merged.values())


def merge_sources(sources: Sequence[Any]) -> Iterator[Tuple[Pair, ...]]:
    factors = [as_factor(source, index == 0) for index, source in enumerate(sources)]
    return map(merge_pairs, lazy_product(*factors))
