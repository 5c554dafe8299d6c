"""Helpers for writing entrypoints (also importable from :mod:`hydra_python_sweeper`).

Hydra imports this module at every application start: it imports nothing heavy.

    >>> from hydra_plugins.hydra_python_sweeper.utils import merge_overrides
    >>> [dict(job) for job in merge_overrides([{"a": 1}, {"a": 2}])]
    [{'a': 1}, {'a': 2}]
"""

from hydra_python_sweeper import DELETE, merge_overrides, raw, read_results

__all__ = ["DELETE", "merge_overrides", "raw", "read_results"]
