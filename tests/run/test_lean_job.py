"""A packed task's ``run_job`` (less Hydra's copies of its node) against Hydra's own, job by
job, on the real applications of the comparison with BasicSweeper: what the task function,
the callbacks, ``HydraConfig``, the job's files, its working dir and environment see."""

import os
from pathlib import Path
from typing import Any, Dict, List, Tuple

import hydra
import pytest
from compared import CASES, jobs
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobStatus
from hydra.core.utils import run_job as hydras_run_job
from hydra.types import HydraContext
from omegaconf import DictConfig, OmegaConf

from hydra_python_sweeper.run import lean_job
from hydra_python_sweeper.run.compose import Composer, same_config
from hydra_python_sweeper.run.packed_task import numbered
from hydra_python_sweeper.space.format import format_job

COPIED = hydra.__version__.startswith(("1.2.", "1.3."))


class Recorder:
    """A user's callback: what it is handed at a job's start and end."""

    def __init__(self) -> None:
        self.seen: List[Tuple[str, Any]] = []

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.seen.append(("start", OmegaConf.to_yaml(config)))

    def on_job_end(self, config: DictConfig, job_return: Any) -> None:
        self.seen.append(("end", OmegaConf.to_yaml(config)))
        self.seen.append(("job_return", job_return))
        node = OmegaConf.select(
            job_return.hydra_cfg, "hydra.help.app_name", throw_on_resolution_failure=False
        )
        self.seen.append(("app_name", node))


def run(runner: Any, context: Any, config: DictConfig, fail: bool) -> Dict[str, Any]:
    """What one job sees and leaves, run by ``runner``."""
    seen: Dict[str, Any] = {}

    def task(cfg: DictConfig) -> Any:
        node = HydraConfig.get()
        seen.update(
            cfg=cfg,
            yaml=OmegaConf.to_yaml(cfg),
            cwd=os.getcwd(),
            env=os.environ.get("LEAN_JOB_NUM"),
            hydra=(
                node.runtime.output_dir,
                node.job.num,
                node.job.id,
                node.job.override_dirname,
                node.job.name,
                OmegaConf.to_container(node.runtime.choices),
                OmegaConf.to_container(node.overrides.task),
                node.help.app_name,
            ),
            resolved=OmegaConf.select(cfg, "where"),
        )
        if fail:
            raise ValueError(f"job {node.job.num} fails")
        return {"num": node.job.num}

    before, cwd = HydraConfig.instance().cfg, os.getcwd()
    recorder = Recorder()
    context.callbacks.callbacks.append(recorder)
    try:
        done = runner(
            hydra_context=context,
            task_function=task,
            config=config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )
    finally:
        context.callbacks.callbacks.remove(recorder)
    assert HydraConfig.instance().cfg is before and os.getcwd() == cwd  # both put back
    output = Path(done.hydra_cfg.hydra.runtime.output_dir)
    files = {
        str(path.relative_to(output)): path.read_bytes() if path.suffix == ".yaml" else None
        for path in sorted(output.rglob("*"))
        if path.is_file()
    }
    for path in sorted(output.rglob("*"), reverse=True):  # the next run writes them again
        path.unlink() if path.is_file() else path.rmdir()
    seen.update(done=done, files=files, callbacks=recorder.seen)
    return seen


@pytest.mark.skipif(not COPIED, reason="a packed task runs Hydra's own run_job on this Hydra")
@pytest.mark.parametrize("chdir", [False, True])
@pytest.mark.parametrize("case", sorted(CASES))
def test_each_job_sees_what_hydra_s_run_job_gives_it(
    compose_app: Any, tmp_path: Path, case: str, chdir: bool
) -> None:
    from hydra._internal.callbacks import Callbacks

    settings = (
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        f"hydra.job.chdir={str(chdir).lower()}",
        "+hydra.job.env_set.LEAN_JOB_NUM=${hydra:job.num}",
        "hydra.help.app_name=${where}",  # Hydra's node reads the job's config
    )
    loader, master = compose_app(CASES[case][0], settings)
    composer = Composer(loader, master)
    context = HydraContext(config_loader=loader, callbacks=Callbacks(master))
    assert lean_job.runner() is lean_job.run_job
    # each job's config reads Hydra's node (the job's, through HydraConfig)
    where = "+where=${hydra:runtime.output_dir}"
    for number, job in enumerate([*format_job(job)[1], where] for job in jobs(case)):
        fail = number % 3 == 1
        hydras, lean = (
            run(runner, context, numbered(composer.compose(job), number, "7_0"), fail)
            for runner in (hydras_run_job, lean_job.run_job)
        )
        assert same_config(lean["cfg"], hydras["cfg"]), job
        for key in ("yaml", "cwd", "env", "hydra", "resolved", "files", "callbacks"):
            if key != "callbacks":
                assert lean[key] == hydras[key], (key, job)
        assert lean["env"] == str(number) and lean["resolved"] == lean["hydra"][0]
        assert lean["hydra"][-1] == lean["resolved"]
        assert (lean["cwd"] == lean["hydra"][0]) is chdir
        assert ".hydra/hydra.yaml" in lean["files"] and len(lean["files"]) == 4  # and its log
        ours, theirs = lean["done"], hydras["done"]
        assert (ours.status, ours.overrides, ours.working_dir, ours.task_name) == (
            theirs.status,
            theirs.overrides,
            theirs.working_dir,
            theirs.task_name,
        )
        assert repr(ours._return_value) == repr(theirs._return_value)
        assert ours.status == (JobStatus.FAILED if fail else JobStatus.COMPLETED)
        assert same_config(ours.cfg, theirs.cfg) and ours.cfg is lean["cfg"]
        assert OmegaConf.to_yaml(ours.hydra_cfg) == OmegaConf.to_yaml(theirs.hydra_cfg)
        assert same_config(ours.hydra_cfg, theirs.hydra_cfg)
        said, told = lean["callbacks"], hydras["callbacks"]
        assert [kind for kind, _ in said] == ["start", "end", "job_return", "app_name"]
        # the one difference: Hydra's copy of its node for the JobReturn lost the job's
        # config (an interpolation from it into the config fails); the view keeps it
        assert said[3][1] == lean["resolved"] and told[3][1] is None
        assert said[:2] == told[:2] and said[2][1] is ours  # the same config, each time


def test_a_hydra_whose_run_job_is_not_the_copied_one_runs_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hydra.core import utils

    assert (lean_job.runner() is lean_job.run_job) is COPIED
    lean_job._copied_version.cache_clear()
    monkeypatch.setattr(utils, "run_job", lambda **kwargs: None)  # another Hydra's
    try:
        assert lean_job.runner() is utils.run_job
    finally:
        lean_job._copied_version.cache_clear()
