"""What validation costs a job: by shape (``validate=true``) against Hydra's full composition
(``validate=full``), on three applications, at N = 1e3 and 1e5 jobs.

- ``example``: example/config/multilayer.yaml, jobs ``num_layers=.. num_hidden=[..] +seed=i``;
- ``structured``: tests/apps/compare (a dataclass schema, an ``optim`` group of structured
  configs), jobs ``optim=adam|sgd optim.lr=.. seed=i``;
- ``groups``: tests/apps/compare (``db`` and ``db@backup`` groups, interpolations), jobs
  ``db=.. db@backup=.. db.port=i owner=me``.

Every job has a value of its own (``+seed=i``, ``db.port=i``), so no override string is
parsed from the cache only. By shape, every job is checked; full composition costs about
0.05 s a job, so it is timed on the first 50 jobs and reported per job. Then the time a
whole ``validate=true`` sweep of 1e5 jobs (bench/app.py, the no-op launcher) spends in
validation: its CPU time less the same sweep's with ``validate=false``.

    python bench/validation.py            # N = 1e3, 1e5, and the 1e5-job sweep
    python bench/validation.py --quick    # N = 1e3 only: a smoke test

Prints a table; writes ``bench/results/validation.txt`` (not with ``--quick``).
"""

import argparse
import itertools
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.types import RunMode

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

from compared import load_app  # noqa: E402

from hydra_python_sweeper.run.validate import ShapeValidator  # noqa: E402

FULL_SAMPLE = 50


def example_jobs(n: int) -> Iterator[List[str]]:
    shapes = [
        [f"num_layers={layers}", "num_hidden=[" + ", ".join(map(str, h)) + "]"]
        for layers in range(1, 4)
        for h in itertools.product((32, 64), repeat=layers)
    ]
    return ([*shapes[i % 14], f"+seed={i}"] for i in range(n))


def structured_jobs(n: int) -> Iterator[List[str]]:
    return (
        [f"optim={('adam', 'sgd')[i % 2]}", f"optim.lr=0.{i % 7 + 1}", f"seed={i}"]
        for i in range(n)
    )


def groups_jobs(n: int) -> Iterator[List[str]]:
    dbs = ("mysql", "postgresql")
    return (
        [f"db={dbs[i % 2]}", f"db@backup={dbs[i // 2 % 2]}", f"db.port={i}", "owner=me"]
        for i in range(n)
    )


APPS: Dict[str, Any] = {
    "example": (ROOT / "example" / "config", "multilayer", example_jobs),
    "structured": (ROOT / "tests" / "apps" / "compare" / "conf", "structured", structured_jobs),
    "groups": (ROOT / "tests" / "apps" / "compare" / "conf", "groups", groups_jobs),
}


def per_job(check: Callable[[List[str]], Any], jobs: Iterator[List[str]], count: int) -> float:
    """Seconds per job of ``check`` over the first ``count`` jobs (CPU time)."""
    tic = time.process_time()
    done = 0
    for job in itertools.islice(jobs, count):
        check(job)
        done += 1
    return (time.process_time() - tic) / done


def measure(app: str, n: int) -> Dict[str, float]:
    conf, name, jobs = APPS[app]
    load_app().store_schemas()
    with initialize_config_dir(config_dir=str(conf), version_base=None):
        loader = GlobalHydra.instance().config_loader()
        master = loader.load_configuration(name, [], run_mode=RunMode.MULTIRUN)
        shape = per_job(ShapeValidator(loader, master).check, jobs(n), n)
        full = per_job(lambda job: loader.load_sweep_config(master, job), jobs(n), FULL_SAMPLE)
    return {"shape_ms": 1000 * shape, "full_ms": 1000 * full, "ratio": full / shape}


def own_shapes(n: int) -> Dict[str, float]:
    """The groups app when every job is a shape of its own: the cache of composed shapes
    keeps one, and the jobs alternate between two group choices, so each job is composed
    (the cost when every job is its own combination of config groups)."""
    from hydra_python_sweeper.run import compose as _compose
    from hydra_python_sweeper.run import validate as _validate

    conf, name, jobs = APPS["groups"]
    load_app().store_schemas()
    kept = _compose.SHAPES
    _compose.SHAPES = _validate.SHAPES = 1
    try:
        with initialize_config_dir(config_dir=str(conf), version_base=None):
            loader = GlobalHydra.instance().config_loader()
            master = loader.load_configuration(name, [], run_mode=RunMode.MULTIRUN)
            shape = per_job(ShapeValidator(loader, master).check, jobs(n), n)
            strict = per_job(ShapeValidator(loader, master, strict=True).check, jobs(n), n)
            full = per_job(lambda job: loader.load_sweep_config(master, job), jobs(n), n)
    finally:
        _compose.SHAPES = _validate.SHAPES = kept
    return {"shape_ms": 1000 * shape, "strict_ms": 1000 * strict, "full_ms": 1000 * full}


def sweep_cpu(n: int, validate: str) -> float:
    """CPU seconds of a whole sweep of bench/app.py, ``n`` jobs, this ``validate``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                str(HERE / "app.py"),
                "-m",
                f"hydra.sweep.dir={tmp}/sweep",
                "hydra/sweeper=python",
                "hydra.sweeper.entrypoints=[bench_spaces.grid]",
                "hydra.sweeper.max_batch_size=1000",
                f"hydra.sweeper.validate={validate}",
                "hydra.sweeper.keep_returns=false",
            ],
            env={**os.environ, "BENCH_N": str(n)},
            check=True,
            capture_output=True,
        )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 1e3 only, no file written")
    parser.add_argument(
        "--own-shapes", action="store_true", help="only: every job a shape of its own (200 jobs)"
    )
    args = parser.parse_args()
    if args.own_shapes:
        r = own_shapes(200)
        line = (
            f"Every job a shape of its own (groups app, 200 jobs): by shape {r['shape_ms']:.1f} "
            f"ms a job, strict {r['strict_ms']:.1f} ms, full composition {r['full_ms']:.1f} ms"
        )
        print(line)
        (HERE / "results" / "validation-own-shapes.txt").write_text(line + "\n")
        return
    sizes = [1_000] if args.quick else [1_000, 100_000]
    lines = ["| app | N | by shape (ms/job) | full composition (ms/job) | full / shape |"]
    lines.append("|---|---:|---:|---:|---:|")
    for app in APPS:
        for n in sizes:
            r = measure(app, n)
            lines.append(
                f"| {app} | {n:,} | {r['shape_ms']:.2f} | {r['full_ms']:.1f} | {r['ratio']:.0f}x |"
            )
            print(lines[-1], flush=True)
    if not args.quick:
        n = 100_000
        on, off = sweep_cpu(n, "true"), sweep_cpu(n, "false")
        lines.append("")
        lines.append(
            f"A {n:,}-job sweep (bench/app.py, no-op launcher): {on:.1f} s of CPU with "
            f"validate=true, {off:.1f} s with validate=false: {on - off:.1f} s validating "
            f"({1000 * (on - off) / n:.2f} ms a job)."
        )
        print(lines[-1])
        (HERE / "results" / "validation.txt").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
