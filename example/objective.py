"""The adaptive examples' application: a simulated training run that returns its validation
loss. The loss is best near ``lr = 3e-3`` with 2 layers, falls with more epochs, and has a
little noise of its own for each (lr, layers, seed); each epoch sleeps ``time_per_epoch``.

    python example/objective.py -m      # asynchronous successive halving, 60 jobs
    python example/objective.py -m \
        'hydra.sweeper.entrypoints=[{_target_: config.adaptive.random_search, target: 0.2}]'
"""

import math
import random
import time

import hydra
from omegaconf import DictConfig


def validation_loss(lr: float, num_layers: int, epochs: int, seed: int = 0) -> float:
    """The simulated objective: deterministic for the same arguments."""
    quality = (math.log10(lr) + 2.5) ** 2 + 0.1 * (num_layers - 2) ** 2
    noise = random.Random(f"{lr}/{num_layers}/{seed}").gauss(0.0, 0.02)
    return round(quality + 1.0 / epochs + noise, 6)


@hydra.main(version_base=None, config_path="config", config_name="objective")
def train(cfg: DictConfig) -> float:
    time.sleep(cfg.epochs * cfg.time_per_epoch)
    return validation_loss(cfg.lr, cfg.num_layers, cfg.epochs, cfg.seed)


if __name__ == "__main__":
    train()
