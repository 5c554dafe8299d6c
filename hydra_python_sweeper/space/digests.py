"""A compact set of 128-bit digests.

A Python ``set`` of 16-byte ``bytes`` holds about 98 bytes of resident memory per
digest at a million (``bench/digests.py``). A :class:`DigestSet` keeps each digest
in 14 bytes: its first two bytes choose one of 65,536 buckets (256 lists of 256),
and the other 14 are appended to that bucket's ``bytearray``; membership is a
C-speed ``find`` in that bucket. With uniform digests (xxh3) the buckets stay even:
about 15 suffixes (210 bytes) each at a million digests, 150 (2.1 KB) at ten
million. The buckets are made up front (3.7 MB, whatever the sweep's size), so that
adding a digest runs no code but the lookup and the append.

    >>> seen = DigestSet()
    >>> seen.add(bytes(range(16))), seen.add(bytes(range(16))), len(seen)
    (True, False, 1)
    >>> seen.add_all([bytes(16), bytes(range(16)), bytes(16)])
    [True, False, False]
"""

import sys
from typing import List, Sequence

_PREFIX = 2
_SUFFIX = 14


class DigestSet:
    """A set of 16-byte digests, about 16 bytes each at a million and more."""

    __slots__ = ("_buckets",)

    def __init__(self) -> None:
        self._buckets: List[List[bytearray]] = [
            [bytearray() for _ in range(256)] for _ in range(256)
        ]

    def __len__(self) -> int:
        return sum(len(b) for row in self._buckets for b in row) // _SUFFIX

    def __contains__(self, digest: bytes) -> bool:
        return _find(self._buckets[digest[0]][digest[1]], digest[_PREFIX:]) >= 0

    def add(self, digest: bytes) -> bool:
        """Add ``digest`` (16 bytes); ``True`` if it was not there yet."""
        return self.add_all((digest,))[0]

    def add_all(self, digests: Sequence[bytes]) -> List[bool]:
        """Add each of ``digests`` (16 bytes each), in order; which were not there yet."""
        if list(map(len, digests)).count(_PREFIX + _SUFFIX) != len(digests):
            size = next(len(d) for d in digests if len(d) != _PREFIX + _SUFFIX)
            raise ValueError(f"a digest has {_PREFIX + _SUFFIX} bytes, got {size}")
        buckets = self._buckets
        new = [True] * len(digests)
        for index, digest in enumerate(digests):
            bucket = buckets[digest[0]][digest[1]]
            suffix = digest[_PREFIX:]
            if bucket.find(suffix) < 0 or _find(bucket, suffix) < 0:  # found: maybe straddling
                bucket += suffix
            else:
                new[index] = False
        return new

    def footprint(self) -> int:
        """Bytes the set holds: its bucket tables and every bucket, object headers included."""
        rows = self._buckets
        return (
            sys.getsizeof(self)
            + sys.getsizeof(rows)
            + sum(sys.getsizeof(row) + sum(map(sys.getsizeof, row)) for row in rows)
        )


def _find(bucket: bytearray, suffix: bytes) -> int:
    """Offset of ``suffix`` at a suffix boundary of ``bucket``, or -1."""
    position = bucket.find(suffix)
    while position >= 0 and position % _SUFFIX:
        position = bucket.find(suffix, position + 1)
    return position
