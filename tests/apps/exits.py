"""An application whose job ``+x=4`` leaves as ``how`` says (from the config): ``sys.exit``
with ``code``, a bare ``BaseException``, or a ``KeyboardInterrupt`` of its own."""

import sys

import hydra
from omegaconf import DictConfig


class Unusual(BaseException):
    pass


@hydra.main(version_base=None, config_path="conf", config_name="exits")
def main(cfg: DictConfig) -> int:
    if cfg.x == 4:
        if cfg.how == "exit":
            sys.exit(cfg.code)
        if cfg.how == "base":
            raise Unusual("out of the ordinary")
        if cfg.how == "interrupt":
            raise KeyboardInterrupt
    return int(cfg.x)


if __name__ == "__main__":
    main()
