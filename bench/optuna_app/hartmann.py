"""bench/optuna_bench.py's application: the Hartmann 3-D function (minimum -3.86278 at
(0.114614, 0.555649, 0.852547)), each job sleeping a duration drawn lognormal from its
seed and job number, recording its start, end and value in a ledger. Runs under either
sweeper (and Hydra 1.3 or later)."""

import json
import math
import os
import random
import time

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

A = [[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]]
C = [1.0, 1.2, 3.0, 3.2]
P = [
    [0.3689, 0.1170, 0.2673],
    [0.4699, 0.4387, 0.7470],
    [0.1091, 0.8732, 0.5547],
    [0.0381, 0.5743, 0.8828],
]


def hartmann3(x: list) -> float:
    return -sum(
        C[i] * math.exp(-sum(A[i][j] * (x[j] - P[i][j]) ** 2 for j in range(3))) for i in range(4)
    )


@hydra.main(version_base=None, config_path="conf", config_name="optuna")
def main(cfg: DictConfig) -> float:
    start = time.time()
    num = HydraConfig.get().job.num
    time.sleep(cfg.scale * random.Random(f"{cfg.seed}/{num}").lognormvariate(0.0, cfg.sigma))
    value = hartmann3([cfg.x1, cfg.x2, cfg.x3])
    line = json.dumps({"num": num, "start": start, "end": time.time(), "value": value})
    fd = os.open(cfg.ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)
    return value


if __name__ == "__main__":
    main()
