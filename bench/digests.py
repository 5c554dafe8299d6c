"""The digest set behind ``remove_duplicates``: resident memory per distinct job, and time
per add next to a Python ``set`` of the same digests.

    python bench/digests.py

Memory: each size runs in a process of its own, which adds N distinct digests (to a
DigestSet, then, for comparison, to a Python set) and reports its peak RSS (``VmHWM``); bytes
per job is the difference between N = 1e6 and N = 1e4, divided by the jobs between them (the
fixed bucket table cancels out). Time: the same
million digests, made first, added to a DigestSet a chunk of 1,000 at a time (``add_all``,
as ``remove_duplicates`` adds them) and to a set one by one by a C-level loop (best of 5).
"""

import subprocess
import sys
import time
from collections import deque
from typing import Any, Callable, List

import xxhash

from hydra_python_sweeper.space.digests import DigestSet


def digests(n: int) -> List[bytes]:
    return [xxhash.xxh3_128_digest(b"%d" % i) for i in range(n)]


def peak_rss(n: int, kind: str) -> int:
    """Peak RSS, in bytes, of a process that adds ``n`` distinct digests, a chunk of 1,000 at
    a time, to a ``DigestSet`` or (``kind="set"``) to a Python set."""
    code = (
        "import sys, xxhash\n"
        "from hydra_python_sweeper.space.digests import DigestSet\n"
        f"seen = {'set' if kind == 'set' else 'DigestSet'}()\n"
        "add = seen.update if isinstance(seen, set) else seen.add_all\n"
        "n = int(sys.argv[1])\n"
        "for k in range(0, n, 1000):\n"
        "    add([xxhash.xxh3_128_digest(b'%d' % i) for i in range(k, k + 1000)])\n"
        "status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
        "print(int(status.split()[0]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(n)], capture_output=True, text=True)
    return int(out.stdout) * 1024


def per_add(make: Callable[[], Any], items: List[bytes]) -> float:
    """Seconds per digest added to a new ``make()``: by ``add_all`` on chunks of 1,000 when
    it has one, else by ``add``."""
    best = float("inf")
    chunks = [items[k : k + 1000] for k in range(0, len(items), 1000)]
    for _ in range(5):
        seen = make()
        tic = time.perf_counter()
        if hasattr(seen, "add_all"):
            deque(map(seen.add_all, chunks), maxlen=0)
        else:
            deque(map(seen.add, items), maxlen=0)
        best = min(best, time.perf_counter() - tic)
    return best / len(items)


def main() -> None:
    small, large = 10**4, 10**6
    per_job = (peak_rss(large, "DigestSet") - peak_rss(small, "DigestSet")) / (large - small)
    per_set = (peak_rss(large, "set") - peak_rss(small, "set")) / (large - small)
    items = digests(large)
    ours, theirs = per_add(DigestSet, items), per_add(set, items)
    print(
        f"resident memory per distinct job (peak RSS, 1e6 - 1e4): {per_job:.1f} bytes "
        f"(a Python set of the digests: {per_set:.1f})"
    )
    print(
        f"time per add at 1e6: DigestSet {ours * 1e9:.0f} ns, set {theirs * 1e9:.0f} ns "
        f"({ours / theirs:.2f}x)"
    )


if __name__ == "__main__":
    main()
