"""Sweeps for ``multilayer.yaml``: 1 to 3 layers, each of 32 or 64 units (14 jobs)."""

import itertools
from typing import Any, Dict, Iterator

from hydra_plugins.hydra_python_sweeper.utils import merge_overrides


def configure() -> Iterator[Dict[str, Any]]:
    """The 14 architectures: a generator, consumed as the sweep needs its jobs."""
    for num_layers in range(1, 4):
        for num_hidden in itertools.product((32, 64), repeat=num_layers):
            yield {"num_layers": num_layers, "num_hidden": list(num_hidden)}


def optimizers() -> Iterator[Dict[str, Any]]:
    """A sub-space: Adam with two learning rates, or SGD with momentum."""
    for lr in (1e-3, 1e-4):
        yield {"+optimizer": {"name": "adam", "lr": lr}}
    yield {"+optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9}}


def configure_with_optimizer() -> Iterator[Any]:
    """Every architecture with every optimizer: 14 x 3 = 42 jobs."""
    return merge_overrides(configure, optimizers)
