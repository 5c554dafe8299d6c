"""Helpers for writing entrypoints.

Hydra imports this module at every application start: it imports nothing heavy.
"""

from typing import Any, Callable, Iterable, Iterator, Tuple, Union

from ._markers import DELETE, raw

__all__ = ["DELETE", "merge_overrides", "raw", "read_results"]

Source = Union[Iterable[Any], Callable[[], Iterable[Any]]]


def merge_overrides(*sources: Source) -> Iterator[Tuple[Tuple[str, Any], ...]]:
    """The lazy cartesian product of override sources, each job as ``(key, value)`` pairs.

    A source is an iterable of jobs (mappings or iterables of ``(key, value)``
    pairs) or a zero-argument function returning one. The first source is the
    outermost; on a key that two sources share, the earlier source wins. Only the
    first source may be a one-shot iterator (a generator): the others are
    iterated again for every combination, so pass a sized collection or a
    function::

        >>> layers = [{"num_layers": 1}, {"num_layers": 2}]
        >>> optimizers = lambda: ({"optim": name} for name in ("adam", "sgd"))
        >>> [dict(job) for job in merge_overrides(layers, optimizers)][:2]
        [{'num_layers': 1, 'optim': 'adam'}, {'num_layers': 1, 'optim': 'sgd'}]
    """
    from ._merge import merge_sources

    return merge_sources(sources)


def read_results(sweep_dir: Any) -> Iterator[Any]:
    """The sweep in ``sweep_dir``'s jobs as records (number, overrides as a dict, status,
    return value, output dir, start and end times, host), one a job in job order, the latest
    attempt of each; streamed from its journal, in flat memory::

        for job in read_results("multirun/2026-11-30/10-00-00"):
            print(job.number, job.overrides, job.status, job.returned)
    """
    from ._records import read_results as read

    return read(sweep_dir)
