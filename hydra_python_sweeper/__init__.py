"""hydra-python-sweeper's engine: Hydra sweeps defined by Python functions, streamed lazily.

How a job travels, one subpackage a leg (each imports only those listed after it)::

    commands/  status, cancel, results: read a sweep from its journal, on any host
    run/       the sweep as Hydra runs it: settings, pipeline, batches in flight, launch, end
    cluster/   where jobs run: SLURM, the detached driver, which processes are the sweep's
    journal/   what a sweep did, one line a step: its format, writer, reader, locks
    space/     the jobs: entrypoints, product, values, override strings, dedup digests
    errors, messages, version: the words all of them share

Hydra's plugin (``hydra_plugins.hydra_python_sweeper``) is a thin folder over this package,
which Hydra never scans. The helpers for entrypoints are importable from here::

    >>> from hydra_python_sweeper import DELETE, merge_overrides, raw, read_results
    >>> [dict(job) for job in merge_overrides([{"a": 1}], [{"b": 2}, {"b": 3}])]
    [{'a': 1, 'b': 2}, {'a': 1, 'b': 3}]

Importing this package imports nothing heavy: Hydra's plugin discovery loads it at every
application start (through the plugin's ``utils``).
"""

from typing import Any, Callable, Iterable, Iterator, Tuple, Union

from hydra_python_sweeper.space.markers import DELETE, raw
from hydra_python_sweeper.version import __version__

__all__ = ["DELETE", "__version__", "merge_overrides", "raw", "read_results"]

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
    from hydra_python_sweeper.space.merge import merge_sources

    return merge_sources(sources)


def read_results(sweep_dir: Any) -> Iterator[Any]:
    """The sweep in ``sweep_dir``'s jobs as records (number, overrides as a dict, status,
    return value, output dir, start and end times, host), one a job in job order, the latest
    attempt of each; streamed from its journal, in flat memory::

        for job in read_results("multirun/2026-11-30/10-00-00"):
            print(job.number, job.overrides, job.status, job.returned)
    """
    from hydra_python_sweeper.journal.records import read_results as read

    return read(sweep_dir)
