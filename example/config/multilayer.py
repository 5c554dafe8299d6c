"""Sweeps for ``multilayer.yaml``: 1 to 3 layers, each of 32 or 64 units (14 jobs)."""

import itertools
from typing import Any, Dict, Iterator, Sequence

from hydra_plugins.hydra_python_sweeper.utils import merge_overrides


def configure() -> Iterator[Dict[str, Any]]:
    """The 14 architectures: a generator, consumed as the sweep needs its jobs."""
    return layers(max_layers=3)


def layers(max_layers: int, widths: Sequence[int] = (32, 64)) -> Iterator[Dict[str, Any]]:
    """1 to ``max_layers`` layers, each of one of ``widths`` units.

    As a parametrised entrypoint: ``{_target_: config.multilayer.layers, max_layers: 4}``.
    """
    for num_layers in range(1, max_layers + 1):
        for num_hidden in itertools.product(widths, repeat=num_layers):
            yield {"num_layers": num_layers, "num_hidden": list(num_hidden)}


def optimizers() -> Iterator[Dict[str, Any]]:
    """A sub-space: Adam with two learning rates, or SGD with momentum."""
    for lr in (1e-3, 1e-4):
        yield {"+optimizer": {"name": "adam", "lr": lr}}
    yield {"+optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9}}


def configure_with_optimizer() -> Iterator[Any]:
    """Every architecture with every optimizer: 14 x 3 = 42 jobs."""
    return merge_overrides(configure, optimizers)


def no_wide_deep_nets(job: Dict[str, Any]) -> bool:
    """A filter: drop the nets of 3 layers or more whose layers are all 64 wide."""
    return job["num_layers"] < 3 or set(job["num_hidden"]) != {64}


def seeds_and_rates(n: int = 1_000_000) -> Iterator[Dict[str, Any]]:
    """A big sweep: ``n`` jobs, 1,000 learning rates x ``n / 1000`` seeds, as a generator."""
    for i in range(n):
        yield {
            "num_layers": 2,
            "num_hidden": [64, 64],
            "+seed": i % 1000,
            "+lr": (i // 1000 + 1) * 1e-6,
        }
