"""The compact digest set behind ``remove_duplicates``."""

import pytest
import xxhash
from hypothesis import given
from hypothesis import strategies as st

from hydra_python_sweeper.space.digests import DigestSet
from hydra_python_sweeper.space.stages import unique_jobs


@given(st.lists(st.binary(min_size=16, max_size=16), max_size=200))
def test_behaves_like_a_set(items: list) -> None:
    digests, reference = DigestSet(), set()
    for item in items:
        assert digests.add(item) == (item not in reference)
        reference.add(item)
        assert item in digests
    assert len(digests) == len(reference)


def test_a_suffix_found_across_two_entries_is_not_a_member() -> None:
    digests = DigestSet()
    digests.add(b"\x00\x00" + b"A" * 7 + b"B" * 7)
    digests.add(b"\x00\x00" + b"C" * 7 + b"D" * 7)
    straddling = b"\x00\x00" + b"B" * 7 + b"C" * 7  # bytes 7..21 of the bucket
    assert straddling not in digests
    assert digests.add(straddling)
    assert len(digests) == 3


def test_rejects_digests_of_another_size() -> None:
    with pytest.raises(ValueError, match="a digest has 16 bytes, got 8"):
        DigestSet().add(b"12345678")


def test_a_million_distinct_jobs_then_a_million_repeats() -> None:
    n = 1_000_000
    seen = DigestSet()
    kept = sum(1 for _ in unique_jobs(([f"+i={i}", "a=1"] for i in range(n)), seen))
    assert kept == n  # no false duplicate among a million distinct jobs
    again = sum(1 for _ in unique_jobs((["a=1", f"+i={i}"] for i in range(n)), seen))
    assert again == 0  # every repeat recognised, whatever the order of its overrides
    assert len(seen) == n
    per_job = seen.footprint() / n
    assert per_job <= 24, f"{per_job:.1f} bytes per distinct job"


def test_memory_per_digest_is_far_below_a_python_set() -> None:
    n = 200_000
    digests = DigestSet()
    for i in range(n):
        digests.add(xxhash.xxh3_128_digest(i.to_bytes(8, "little")))
    # 200k digests sit in ~3 per bucket: the fixed table dominates, still < a set's ~82 B.
    assert digests.footprint() / n < 60
