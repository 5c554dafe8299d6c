"""What a short job costs inside a task, and where it goes: Hydra composing its config and
setting up its run, as a packed task does it for each of its jobs, against what Hydra's own
launchers do (the basic launcher, hydra-submitit-launcher's task): the CPU time a job of
each step, on three applications (``bench/validation.py``'s), each job as lean as Hydra
allows (``hydra.output_subdir=null``, ``hydra/job_logging=disabled``) and a task that does
nothing.

- ``compose, Hydra``: ``load_sweep_config``, what Hydra's launchers call for every job;
- ``compose, by shape``: :class:`hydra_python_sweeper.run.compose.Composer`, what a packed
  task calls (each shape composed by Hydra once, each job's values applied to a copy);
- ``run_job, Hydra's``: Hydra's ``run_job`` with the composed config (its output dir, four
  copies of the config for the job and for ``HydraConfig``, callbacks), what Hydra's
  launchers run;
- ``run_job, packed task's``: :func:`hydra_python_sweeper.run.lean_job.runner`'s, the same
  less its copies of Hydra's node (Hydra's own on a Hydra it is not the copy of).

    python bench/task_cost.py           # 300 jobs an application
    python bench/task_cost.py --quick   # 30: a smoke test, no file written

Prints a table; writes ``bench/results/task_cost.txt``.
"""

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.utils import run_job, setup_globals
from hydra.types import HydraContext, RunMode
from omegaconf import open_dict

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from compared import load_app  # noqa: E402
from validation import APPS  # noqa: E402

from hydra_python_sweeper.run import lean_job  # noqa: E402
from hydra_python_sweeper.run.compose import Composer  # noqa: E402

LEAN = ["hydra.output_subdir=null", "hydra/job_logging=disabled", "hydra/hydra_logging=disabled"]


def cpu_ms(step: Callable[[List[str]], Any], jobs: List[List[str]]) -> float:
    tic = time.process_time()
    for job in jobs:
        step(job)
    return 1000 * (time.process_time() - tic) / len(jobs)


def measure(app: str, n: int, workdir: str) -> Dict[str, float]:
    from hydra._internal.callbacks import Callbacks

    conf, name, jobs = APPS[app]
    load_app().store_schemas()
    sweep = [*LEAN, f"hydra.sweep.dir={workdir}/{app}", "hydra.sweep.subdir=jobs"]
    if app != "example":
        sweep.append("hydra.job.chdir=false")
    batch = list(itertools.islice(jobs(n), n))
    with initialize_config_dir(config_dir=str(conf), version_base=None):
        loader = GlobalHydra.instance().config_loader()
        master = loader.load_configuration(name, sweep, run_mode=RunMode.MULTIRUN)
        setup_globals()
        context = HydraContext(config_loader=loader, callbacks=Callbacks(master))
        hydra = cpu_ms(lambda job: loader.load_sweep_config(master, job), batch)
        composer = Composer(loader, master)
        shaped = cpu_ms(composer.compose, batch)
        runs = {}
        for name, runner in (("run_job", run_job), ("lean", lean_job.runner())):
            configs = [composer.compose(job) for job in batch]
            for number, config in enumerate(configs):
                with open_dict(config):
                    config.hydra.job.id, config.hydra.job.num = f"bench_{number}", number
            it = iter(configs)
            runs[name] = cpu_ms(
                lambda _, runner=runner, it=it: runner(
                    hydra_context=context,
                    task_function=lambda cfg: None,
                    config=next(it),
                    job_dir_key="hydra.sweep.dir",
                    job_subdir_key="hydra.sweep.subdir",
                ),
                batch,
            )
    return {"hydra": hydra, "shape": shaped, **runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="30 jobs, no file written")
    args = parser.parse_args()
    n = 30 if args.quick else 300
    lines = [
        "| app | compose, Hydra (ms/job) | compose, by shape | run_job, Hydra's | run_job, "
        "packed task's | a job, Hydra's launchers | a job, packed task | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as workdir:
        os.chdir(workdir)
        for app in APPS:
            r = measure(app, n, workdir)
            hydra, packed = r["hydra"] + r["run_job"], r["shape"] + r["lean"]
            lines.append(
                f"| {app} | {r['hydra']:.1f} | {r['shape']:.1f} | {r['run_job']:.1f} "
                f"| {r['lean']:.1f} | {hydra:.1f} | {packed:.1f} | {hydra / packed:.1f}x |"
            )
            print(lines[-1], flush=True)
    if not args.quick:
        lines.append(f"\n{n} jobs an application, CPU time (`python bench/task_cost.py`).")
        (HERE / "results" / "task_cost.txt").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
