"""The run package's fixtures: Hydra's config loader on the compared applications."""

from pathlib import Path
from typing import Any, Iterator, Tuple

import pytest
from compared import load_app
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.types import RunMode

CONF = Path(__file__).parents[1] / "apps" / "compare" / "conf"


@pytest.fixture
def compose_app(hydra_restore_singletons: Any) -> Iterator[Any]:
    """``make(config_name, overrides=())``: Hydra's config loader and the sweep's master
    config for one of the compared applications (tests/apps/compare)."""
    load_app().store_schemas()
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        loader = GlobalHydra.instance().config_loader()

        def make(config_name: str, overrides: Tuple[str, ...] = ()) -> Tuple[Any, Any]:
            master = loader.load_configuration(config_name, list(overrides), RunMode.MULTIRUN)
            return loader, master

        yield make
