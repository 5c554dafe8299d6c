"""Entrypoints of the launcher tests' application."""

from typing import Any, Dict, Iterator, List


def seven() -> List[Dict[str, Any]]:
    return [{"+x": i, "+name": f"job {i}"} for i in range(7)]


def seven_lazily() -> Iterator[Dict[str, Any]]:
    return iter(seven())


def twelve() -> Iterator[Dict[str, Any]]:
    return ({"+x": i} for i in range(12))


def many(n: int = 200) -> Iterator[Dict[str, Any]]:
    """``n`` jobs, each with values of its own, for the tests of batches in flight."""
    return ({"+x": i, "+name": f"job {i}", "+pair": [i, -i]} for i in range(n))


def numbered(n: int = 300) -> Iterator[Dict[str, Any]]:
    """``n`` jobs, each with values of its own, for the SLURM tests."""
    return ({"+x": i, "+name": f"job {i}"} for i in range(n))


def with_token(token: str) -> List[Dict[str, Any]]:
    """A parametrised entrypoint whose argument is a secret (``${oc.env:...}``)."""
    return [{"+x": i, "+token_length": len(token)} for i in range(3)]


def one_bad() -> List[Dict[str, Any]]:
    """Three jobs, the middle one with a key the config does not have (no ``+``)."""
    return [{"+x": 0}, {"nokey.y": 1}, {"+x": 2}]


def late_typo() -> Iterator[Dict[str, Any]]:
    """Twenty jobs; job #15 sets a key the config does not have (a typo: no ``+``)."""
    return ({"nokey.y": i} if i == 15 else {"+x": i} for i in range(20))


def slow_list(seconds: float = 30) -> List[Dict[str, Any]]:
    """Jobs that take ``seconds`` to build (a big list built up front)."""
    import time

    time.sleep(seconds)
    return seven()
