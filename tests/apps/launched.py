"""An application for the launcher tests: each job records what it ran with in ``job.json``."""

import json
import os

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf


@hydra.main(version_base=None, config_path="conf", config_name="launched")
def main(cfg: DictConfig) -> int:
    record = {
        "num": HydraConfig.get().job.num,
        "overrides": list(HydraConfig.get().overrides.task),
        "cfg": OmegaConf.to_container(cfg, resolve=True),
        "pid": os.getpid(),
    }
    with open("job.json", "w") as f:
        json.dump(record, f)
    return int(record["num"])


if __name__ == "__main__":
    print(f"main pid {os.getpid()}")
    main()
