"""The adaptive examples' application: a simulated training run that returns its validation
loss (``config.adaptive.validation_loss``); each epoch sleeps ``time_per_epoch``.

    python example/objective.py -m      # asynchronous successive halving, 60 jobs
    python example/objective.py -m \
        'hydra.sweeper.entrypoints=[{_target_: config.adaptive.random_search, target: 0.2}]'
"""

import time

import hydra
from config.adaptive import validation_loss
from omegaconf import DictConfig

# Hydra 1.2 and 1.3 want version_base (None: their current defaults); 1.4 deprecates it
VERSION_BASE = {} if hydra.__version__.startswith("1.4") else {"version_base": None}


@hydra.main(config_path="config", config_name="objective", **VERSION_BASE)
def train(cfg: DictConfig) -> float:
    time.sleep(cfg.epochs * cfg.time_per_epoch)
    return validation_loss(cfg.lr, cfg.num_layers, cfg.epochs, cfg.seed)


if __name__ == "__main__":
    train()
