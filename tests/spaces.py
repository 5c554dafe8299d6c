"""Entrypoints used by the tests, importable as ``spaces.<name>``."""

import itertools
from typing import Any, Dict, Iterator, List

#: How many jobs each generator below has yielded, and how often it was called.
consumed: Dict[str, int] = {}
calls: Dict[str, int] = {}


def _count(name: str, jobs: Iterator[Any]) -> Iterator[Any]:
    calls[name] = calls.get(name, 0) + 1
    for job in jobs:
        consumed[name] = consumed.get(name, 0) + 1
        yield job


def reset() -> None:
    consumed.clear()
    calls.clear()


def layers() -> Iterator[Dict[str, Any]]:
    """The 14 architectures of example/config/multilayer.py, as a generator."""
    return _count(
        "layers",
        (
            {"num_layers": n, "num_hidden": list(h)}
            for n in range(1, 4)
            for h in itertools.product((32, 64), repeat=n)
        ),
    )


def layers_list() -> List[Any]:
    """The same 14 jobs as a list of ``dict.items()``, the other form a job may take."""
    return [
        {"num_layers": n, "num_hidden": list(h)}.items()
        for n in range(1, 4)
        for h in itertools.product((32, 64), repeat=n)
    ]


def seeds() -> Iterator[Dict[str, int]]:
    return _count("seeds", ({"+seed": s} for s in range(3)))


def counter(n: int = 10) -> Iterator[Dict[str, int]]:
    return _count("counter", ({"+i": i} for i in range(n)))


def million() -> Iterator[Dict[str, int]]:
    return _count("million", ({"+i": i} for i in range(1_000_000)))


def empty() -> List[Any]:
    return []


def fails_at_5() -> Iterator[Dict[str, int]]:
    for i in range(10):
        if i == 5:
            raise ValueError("no job 5 today")
        yield {"+i": i}


def bad_value_at_3() -> List[Dict[str, Any]]:
    return [{"+i": i, "+tags": {"a"} if i == 3 else ["a"]} for i in range(6)]


def bad_value_at_3_lazily() -> Iterator[Dict[str, Any]]:
    return iter(bad_value_at_3())


def not_a_job() -> List[Any]:
    return [{"+a": 1}, 42]


def not_a_pair() -> List[Any]:
    return [[("+a", 1), ("+b", 2, 3)]]


def empty_key() -> List[Any]:
    return [{"": 1}]


def returns_mapping() -> Dict[str, int]:
    return {"+a": 1}


def returns_int() -> int:
    return 3


def raises_when_called() -> None:
    raise KeyError("oops")


not_callable = 42


def cannot_compose() -> List[Dict[str, int]]:
    """Job #2 sets a key that the config does not have (and does not add it with +)."""
    return [{"+i": 0}, {"+i": 1}, {"nope": 1}]


def layers_up_to(max_layers: int, widths: Any = (32, 64)) -> Iterator[Dict[str, Any]]:
    """A parametrised entrypoint: 1 to ``max_layers`` layers, each of one of ``widths``."""
    return _count(
        "layers_up_to",
        (
            {"num_layers": n, "num_hidden": list(h)}
            for n in range(1, max_layers + 1)
            for h in itertools.product(widths, repeat=n)
        ),
    )


def fewer_than_3_layers(job: Dict[str, Any]) -> bool:
    return job["num_layers"] < 3


def not_all_64(job: Dict[str, Any]) -> bool:
    return set(job["num_hidden"]) != {64}


def relu_only(job: Dict[str, Any]) -> bool:
    return job.get("+activation") == "relu"


def broken_filter(job: Dict[str, Any]) -> bool:
    return job["missing"]


def twenty() -> Iterator[Dict[str, int]]:
    return _count("twenty", ({"+i": i} for i in range(20)))


def nineteen() -> Iterator[Dict[str, int]]:
    return ({"+i": i} for i in range(19))


def twenty_shuffled() -> Iterator[Dict[str, int]]:
    return ({"+i": (i * 7) % 20} for i in range(20))


def bad_key_at_1() -> List[Dict[str, Any]]:
    """Job #1 has a key that Hydra's override grammar cannot parse."""
    return [{"+a": 0}, {"+a": 1, "+b c": 2}]


def forgot_return(job: Dict[str, Any]) -> None:
    """A filter without its ``return``."""
    job.get("num_layers")


def numpy_like_bool(job: Dict[str, Any]) -> Any:
    """A filter returning a bool of a class named as numpy's."""
    bool_ = type("bool_", (), {"__bool__": lambda self: job["num_layers"] == 1})
    return bool_()


def delete_db_port() -> List[Dict[str, Any]]:
    from hydra_plugins.hydra_python_sweeper.utils import DELETE

    return [{"~db.port": DELETE}, {"~db.port": 3306}, {"~db.port": None}]


def with_token(token: str) -> List[Dict[str, Any]]:
    """A parametrised entrypoint whose argument is a secret (``${oc.env:...}``)."""
    return [{"+i": i, "+token_length": len(token)} for i in range(3)]


def grid2() -> List[Dict[str, int]]:
    """Four jobs over two keys: a command line that sets one of them makes two the same."""
    return [{"a": a, "b": b} for a in (1, 2) for b in (1, 2)]
