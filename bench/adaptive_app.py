"""The adaptive benchmark's application: example/objective.py's task, which also records its
start, end and loss (``times.json`` in its output dir)."""

import json
import sys
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "example"
sys.path.insert(0, str(EXAMPLE))  # the example's entrypoints and objective (config.adaptive)

import hydra  # noqa: E402
from config.adaptive import validation_loss  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig  # noqa: E402


@hydra.main(version_base=None, config_path="conf", config_name="adaptive")
def main(cfg: DictConfig) -> float:
    start = time.time()
    time.sleep(cfg.epochs * cfg.time_per_epoch)
    loss = validation_loss(cfg.lr, cfg.num_layers, cfg.epochs, cfg.seed)
    out = Path(HydraConfig.get().runtime.output_dir) / "times.json"
    out.write_text(json.dumps({"start": start, "end": time.time(), "loss": loss}))
    return loss


if __name__ == "__main__":
    main()
