"""Bytes per distinct job held by remove_duplicates' digest set, at 1e6 and 1e7 jobs.

python bench/digests.py            # 1e6 and 1e7 (about a minute)
"""

import sys
import time

from hydra_plugins.hydra_python_sweeper._digests import DigestSet
from hydra_plugins.hydra_python_sweeper._stages import job_digest


def main() -> None:
    print(f"{'distinct jobs':>14}{'bytes/job':>11}{'python set of digests, bytes/job':>34}{'s':>7}")
    for n in (10**6, 10**7):
        digests: DigestSet = DigestSet()
        tic = time.perf_counter()
        for i in range(n):
            digests.add(job_digest([f"+a={i % 10}", f"+b={i // 10 % 10}", f"+c={i // 100}"]))
        elapsed = time.perf_counter() - tic
        assert len(digests) == n
        sample = {job_digest([f"+i={i}"]) for i in range(100_000)}
        per_set = (sys.getsizeof(sample) + sum(sys.getsizeof(d) for d in sample)) / len(sample)
        print(f"{n:>14,}{digests.footprint() / n:>11.1f}{per_set:>34.1f}{elapsed:>7.1f}")


if __name__ == "__main__":
    main()
