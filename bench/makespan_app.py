"""The makespan benchmark's application: job ``i=k`` sleeps for the k-th drawn duration and
records when it started and ended (``times.json`` in its output dir)."""

import json
import os
import random
import time
from pathlib import Path
from typing import List

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


def durations(n: int, median: float, seed: int = 0) -> List[float]:
    """``n`` job durations, lognormal (sigma 1: about 1% of the jobs take 10x the median)."""
    rng = random.Random(seed)
    return [median * rng.lognormvariate(0.0, 1.0) for _ in range(n)]


@hydra.main(version_base=None, config_path="conf", config_name="makespan")
def main(cfg: DictConfig) -> None:
    n, median = int(os.environ["MAKESPAN_N"]), float(os.environ["MAKESPAN_MEDIAN"])
    start = time.time()
    time.sleep(durations(n, median)[cfg.i])
    end = time.time()
    out = Path(HydraConfig.get().runtime.output_dir) / "times.json"
    out.write_text(json.dumps({"i": cfg.i, "start": start, "end": end}))


if __name__ == "__main__":
    main()
