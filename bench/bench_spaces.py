"""The benchmarks' sweep space: N jobs of 3 keys.

The same space as the command line ``+a=range(0,10) +b=range(0,10) +c=range(0,N/100)``,
in the same order (the last key varies fastest). ``grid`` reads N from ``BENCH_N``.
"""

import os
from typing import Dict, Iterator


def jobs(n: int) -> Iterator[Dict[str, int]]:
    """N jobs ``{"+a": ..., "+b": ..., "+c": ...}``, N a multiple of 100."""
    per_a, per_b = n // 10, n // 100
    return ({"+a": i // per_a, "+b": i // per_b % 10, "+c": i % per_b} for i in range(n))


def grid() -> Iterator[Dict[str, int]]:
    """The entrypoint: :func:`jobs` of ``BENCH_N``."""
    return jobs(int(os.environ["BENCH_N"]))


def command_line(n: int) -> list:
    """The same space as BasicSweeper's command line."""
    return ["+a=range(0,10)", "+b=range(0,10)", f"+c=range(0,{n // 100})"]
