"""An application for the kill-and-resume tests: job n sleeps, then records that it ran."""

import time

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


@hydra.main(version_base=None, config_path="conf", config_name="durable")
def main(cfg: DictConfig) -> int:
    num = HydraConfig.get().job.num
    time.sleep(cfg.sleep + cfg.stagger * (num % cfg.batch))
    with open(f"{HydraConfig.get().sweep.dir}/completions.txt", "a") as f:
        f.write(f"{num}\n")
    return int(num)


if __name__ == "__main__":
    main()
