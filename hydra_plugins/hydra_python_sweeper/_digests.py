"""A compact set of 128-bit digests.

A Python ``set`` of 16-byte ``bytes`` costs about 82 bytes per digest. A
:class:`DigestSet` keeps each digest in 14 bytes: its first two bytes choose one
of 65,536 buckets, and the other 14 are appended to that bucket's ``bytearray``;
membership is a C-speed ``find`` in that bucket. With uniform digests (xxh3) the
buckets stay even: about 15 suffixes (210 bytes) each at a million digests, 150
(2.1 KB) at ten million. The buckets are made up front (3.7 MB, whatever the
sweep's size), so that adding a digest runs no code but the lookup and the append.

    >>> seen = DigestSet()
    >>> seen.add(bytes(range(16))), seen.add(bytes(range(16))), len(seen)
    (True, False, 1)
"""

import sys
from typing import List

_PREFIX = 2
_SUFFIX = 14
_BUCKETS = 1 << (8 * _PREFIX)


class DigestSet:
    """A set of 16-byte digests, about 16 bytes each at a million and more."""

    __slots__ = ("_buckets",)

    def __init__(self) -> None:
        self._buckets: List[bytearray] = [bytearray() for _ in range(_BUCKETS)]

    def __len__(self) -> int:
        return sum(map(len, self._buckets)) // _SUFFIX

    def __contains__(self, digest: bytes) -> bool:
        bucket = self._buckets[(digest[0] << 8) | digest[1]]
        return _find(bucket, digest[_PREFIX:]) >= 0

    def add(self, digest: bytes) -> bool:
        """Add ``digest`` (16 bytes); ``True`` if it was not there yet."""
        if len(digest) != _PREFIX + _SUFFIX:
            raise ValueError(f"a digest has {_PREFIX + _SUFFIX} bytes, got {len(digest)}")
        bucket = self._buckets[(digest[0] << 8) | digest[1]]
        suffix = digest[_PREFIX:]
        position = bucket.find(suffix)  # as _find, inlined: this is the hot path
        while position >= 0:
            if not position % _SUFFIX:
                return False
            position = bucket.find(suffix, position + 1)
        bucket += suffix
        return True

    def footprint(self) -> int:
        """Bytes the set holds: its bucket table and every bucket, object headers included."""
        buckets = self._buckets
        return sys.getsizeof(self) + sys.getsizeof(buckets) + sum(map(sys.getsizeof, buckets))


def _find(bucket: bytearray, suffix: bytes) -> int:
    """Offset of ``suffix`` at a suffix boundary of ``bucket``, or -1."""
    position = bucket.find(suffix)
    while position >= 0 and position % _SUFFIX:
        position = bucket.find(suffix, position + 1)
    return position
