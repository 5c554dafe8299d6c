"""An application for the SLURM tests: each job writes its start and its end to a ledger.

The ledger (``ledger.jsonl`` in the sweep dir) is the tests' own count of how many times
each job ran, independent of the sweeper's journal: a line when the task starts (with its
SLURM task id) and one when it ends, both with the job's number and composed config.
"""

import json
import os
import time

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf


def note(event: str, cfg: DictConfig) -> None:
    record = {
        "event": event,
        "num": HydraConfig.get().job.num,
        "overrides": list(HydraConfig.get().overrides.task),
        "cfg": OmegaConf.to_container(cfg),
        "slurm": os.environ.get("SLURM_ARRAY_JOB_ID", "")
        + "_"
        + os.environ.get("SLURM_ARRAY_TASK_ID", ""),
        "node": os.environ.get("SLURMD_NODENAME"),
        "time": time.time(),
    }
    line = (json.dumps(record) + "\n").encode()
    fd = os.open(
        f"{HydraConfig.get().sweep.dir}/ledger.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT
    )
    try:
        os.write(fd, line)  # one write of one line: appends of several jobs never mix
    finally:
        os.close(fd)


def first_run() -> bool:
    """Whether this job has not started before (the ledger holds no start of it)."""
    num = HydraConfig.get().job.num
    with open(f"{HydraConfig.get().sweep.dir}/ledger.jsonl") as f:
        started = [json.loads(line) for line in f if '"start"' in line]
    return sum(record["num"] == num for record in started) <= 1


@hydra.main(version_base=None, config_path="conf", config_name="ledger")
def main(cfg: DictConfig) -> int:
    note("start", cfg)
    num = HydraConfig.get().job.num
    slow = num in cfg.slow_jobs and first_run()  # slow its first time
    length = cfg.lengths[num] if "lengths" in cfg else 0  # bench/slurm.py's uneven jobs
    try:
        time.sleep(cfg.sleep + (cfg.slow if slow else 0) + length)
    except KeyboardInterrupt:  # a Ctrl-C, or its sweep cancelled: the job's own handling
        note("interrupted", cfg)
        raise
    note("end", cfg)
    return int(HydraConfig.get().job.num)


if __name__ == "__main__":
    main()
