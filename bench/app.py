"""The benchmark's application: its task never runs under ``hydra/launcher=noop``."""

import os

import hydra
from omegaconf import DictConfig

if os.environ.get("BENCH_NO_VALIDATE"):
    # BasicSweeper has no setting for it: composing every job (~50 ms each) would
    # measure Hydra's config composition, not the sweeper. (Hydra's plugin discovery
    # re-executes basic_sweeper.py, so the method is replaced on the base class.)
    from hydra.plugins.sweeper import Sweeper

    Sweeper.validate_batch_is_legal = lambda self, batch: None  # type: ignore[method-assign]


@hydra.main(version_base=None, config_path="conf", config_name="bench")
def main(cfg: DictConfig) -> None:
    pass


if __name__ == "__main__":
    main()
