"""Entrypoints of the launcher tests' application."""

from typing import Any, Dict, Iterator, List


def seven() -> List[Dict[str, Any]]:
    return [{"+x": i, "+name": f"job {i}"} for i in range(7)]


def seven_lazily() -> Iterator[Dict[str, Any]]:
    return iter(seven())


def twelve() -> Iterator[Dict[str, Any]]:
    return ({"+x": i} for i in range(12))
