"""The benchmark's sweep space: ``BENCH_N`` jobs of 3 keys, as a generator.

The same space as the command line ``+a=range(0,10) +b=range(0,10) +c=range(0,N/100)``,
in the same order (the last key varies fastest).
"""

import os
from typing import Dict, Iterator


def grid() -> Iterator[Dict[str, int]]:
    n = int(os.environ["BENCH_N"])
    return (
        {"+a": i // (n // 10), "+b": i // (n // 100) % 10, "+c": i % (n // 100)} for i in range(n)
    )
