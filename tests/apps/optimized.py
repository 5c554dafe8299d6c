"""An application for the Optuna tests: a known function of three parameters, each job's
start and end written to a ledger of the test's own (as ``ledger.py``'s), so that how many
times each trial's job ran is counted apart from the sweeper's journal and the study."""

import time

import hydra
from hydra.core.hydra_config import HydraConfig
from ledger import note
from omegaconf import DictConfig


def objective(x: float, y: int, opt: str) -> float:
    """Lowest (0.0) at x = 2, y = -1, opt = adam."""
    return (x - 2) ** 2 + (y + 1) ** 2 + (0.0 if opt == "adam" else 0.5)


@hydra.main(version_base=None, config_path="conf", config_name="optimized")
def main(cfg: DictConfig) -> object:
    note("start", cfg)
    num = HydraConfig.get().job.num
    time.sleep(cfg.sleep)
    if num in cfg.fail_jobs:
        raise RuntimeError(f"job {num} fails, as asked")
    value = objective(cfg.x, cfg.y, cfg.opt)
    note("end", cfg)
    if cfg.objectives == 2:
        return [value, abs(cfg.x)]
    return value


if __name__ == "__main__":
    main()
