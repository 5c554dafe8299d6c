"""An application for the kill-and-resume tests: job n sleeps, then records that it ran.

``hold=<path>``: jobs from ``hold_from`` on also wait, after their start, until that file
exists (a test then knows they run while it does what it must)."""

import os
import time

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


@hydra.main(version_base=None, config_path="conf", config_name="durable")
def main(cfg: DictConfig) -> int:
    num = HydraConfig.get().job.num
    time.sleep(cfg.sleep + cfg.stagger * (num % cfg.batch))
    while cfg.hold and num >= cfg.hold_from and not os.path.exists(cfg.hold):
        time.sleep(0.05)
    with open(f"{HydraConfig.get().sweep.dir}/completions.txt", "a") as f:
        f.write(f"{num}\n")
    return int(num)


if __name__ == "__main__":
    main()
