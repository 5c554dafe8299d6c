"""An application whose job ``+x=4`` calls ``sys.exit(code)`` (``code`` from the config)."""

import sys

import hydra
from omegaconf import DictConfig


@hydra.main(version_base=None, config_path="conf", config_name="exits")
def main(cfg: DictConfig) -> int:
    if cfg.x == 4:
        sys.exit(cfg.code)
    return int(cfg.x)


if __name__ == "__main__":
    main()
