"""Adaptive sweeps for ``objective.yaml``: entrypoints that take the sweep's ``results``.

Each is a generator: the sweeper asks it for a job when a slot frees, and ``results`` then
holds every job that has ended (``number``, ``job``, ``status``, ``return_value``: here the
validation loss).
"""

import math
import random
import statistics
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

Job = Dict[str, Any]


def validation_loss(lr: float, num_layers: int, epochs: int, seed: int = 0) -> float:
    """The simulated objective of ``example/objective.py``: best near ``lr = 3e-3`` with 2
    layers, lower with more epochs, with a little noise of its own for each (lr, layers,
    seed). Deterministic for the same arguments."""
    quality = (math.log10(lr) + 2.5) ** 2 + 0.1 * (num_layers - 2) ** 2
    noise = random.Random(f"{lr}/{num_layers}/{seed}").gauss(0.0, 0.02)
    return round(quality + 1.0 / epochs + noise, 6)


def sample(rng: random.Random) -> Tuple[float, int]:
    """A random point of the space: lr log-uniform in [1e-4, 1e-1], 1 to 4 layers."""
    return round(10 ** rng.uniform(-4, -1), 6), rng.randint(1, 4)


def asha(
    results: Sequence[Any],
    budget: int = 60,
    eta: int = 3,
    rungs: Sequence[int] = (1, 3, 9),
    seed: int = 0,
) -> Iterator[Job]:
    """Asynchronous successive halving (Li et al., 2020): ``budget`` jobs. A trial is
    promoted to the next rung (3x the epochs) once it is in the best 1/eta of the results of
    its rung so far; when no trial can be promoted, a new one starts on the first rung."""
    rng = random.Random(seed)
    trials: List[Tuple[float, int]] = []
    launched = set()  # (trial, rung)
    for _ in range(budget):
        promotion = promotable(results, launched, eta, rungs)
        if promotion is None:
            trials.append(sample(rng))
            promotion = (len(trials) - 1, 0)
        trial, rung = promotion
        launched.add(promotion)
        lr, num_layers = trials[trial]
        yield {"trial": trial, "lr": lr, "num_layers": num_layers, "epochs": rungs[rung]}


def promotable(
    results: Sequence[Any], launched: set, eta: int, rungs: Sequence[int]
) -> Optional[Tuple[int, int]]:
    """The best trial of the highest rung that may go one rung up, or ``None``."""
    for rung in reversed(range(len(rungs) - 1)):
        ended = sorted(
            (r.return_value, r.job["trial"])
            for r in results
            if r.status == "completed" and r.job["epochs"] == rungs[rung]
        )
        for _, trial in ended[: len(ended) // eta]:
            if (trial, rung + 1) not in launched:
                return trial, rung + 1
    return None


def random_search(
    results: Sequence[Any], target: float, seed: int = 0, limit: int = 1000
) -> Iterator[Job]:
    """Random points at full budget until one reaches ``target`` (or ``limit`` jobs)."""
    rng = random.Random(seed)
    for trial in range(limit):
        if any(r.status == "completed" and r.return_value <= target for r in results):
            return
        lr, num_layers = sample(rng)
        yield {"trial": trial, "lr": lr, "num_layers": num_layers}


def seeds_until_narrow(
    results: Sequence[Any], width: float = 0.02, min_seeds: int = 3, limit: int = 200
) -> Iterator[Job]:
    """More seeds of one configuration until the 95% confidence interval of the mean loss
    is narrower than ``width`` (or ``limit`` seeds)."""
    for seed in range(limit):
        if (
            interval_width([r.return_value for r in results if r.status == "completed"], min_seeds)
            < width
        ):
            return
        yield {"seed": seed}


def interval_width(losses: Sequence[float], min_seeds: int = 3) -> float:
    """The width of the normal 95% confidence interval of the mean (infinite below
    ``min_seeds`` values)."""
    if len(losses) < max(min_seeds, 2):
        return float("inf")
    return 2 * 1.96 * statistics.stdev(losses) / len(losses) ** 0.5
