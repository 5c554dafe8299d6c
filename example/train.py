"""The example application: prints the config each job receives.

python example/train.py --config-name multilayer -m
"""

import hydra
from omegaconf import DictConfig, OmegaConf

# Hydra 1.2 and 1.3 want version_base (None: their current defaults); 1.4 deprecates it
VERSION_BASE = {} if hydra.__version__.startswith("1.4") else {"version_base": None}


@hydra.main(config_path="config", config_name="multilayer", **VERSION_BASE)
def train(cfg: DictConfig) -> None:
    print(OmegaConf.to_yaml(cfg))


if __name__ == "__main__":
    train()
