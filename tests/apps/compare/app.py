"""Three applications, swept by BasicSweeper and by this sweeper in tests/test_same_as_hydra.py:
config groups with a package override (``db@backup``), a structured schema, and experiments
(``+experiment=``) written into ``override_dirname`` directories."""

from dataclasses import dataclass, field
from typing import Any, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class Adam:
    name: str = "adam"
    lr: float = 1e-3
    betas: List[float] = field(default_factory=lambda: [0.9, 0.999])


@dataclass
class Sgd:
    name: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.0
    nesterov: bool = False


@dataclass
class Schema:
    optim: Any = MISSING
    seed: int = 0
    debug: bool = False
    tag: Optional[str] = None
    layers: List[int] = field(default_factory=lambda: [32])


def store_schemas() -> None:
    """Register the structured app's schema and its optimisers (as the app would, at import)."""
    store = ConfigStore.instance()
    store.store(name="schema", node=Schema)
    store.store(group="optim", name="adam", node=Adam)
    store.store(group="optim", name="sgd", node=Sgd)


if __name__ == "__main__":
    import hydra
    from omegaconf import DictConfig, OmegaConf

    store_schemas()

    @hydra.main(version_base=None, config_path="conf", config_name="groups")
    def main(cfg: DictConfig) -> None:
        print(OmegaConf.to_yaml(cfg, resolve=True))

    main()
