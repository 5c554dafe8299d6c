"""The same jobs as Hydra, to the letter: real applications swept by BasicSweeper and by this
sweeper, compared job by job (composed configs, override strings, output directories)."""

import subprocess
import sys
from pathlib import Path
from typing import Any, List, Tuple

import pytest
from compared import APP, CASES, load_app
from hydra.test_utils.test_utils import TSweepRunner
from omegaconf import OmegaConf


def sweep(runner: TSweepRunner, tmpdir: Path, config: str, overrides: List[str]) -> List[Any]:
    """Each job of the sweep, in number order: its number, its override strings, its composed
    config (resolved), its ``override_dirname`` and its output dir within the sweep dir."""
    load_app().store_schemas()  # the structured app's schema, as it registers it at import
    with runner(
        calling_file=str(APP),
        calling_module=None,
        task_function=None,
        config_path="conf",
        config_name=config,
        overrides=overrides,
        temp_dir=tmpdir,
    ) as run:
        jobs: List[Tuple[Any, ...]] = []
        for batch in run.returns:
            for job in batch:
                hydra = job.hydra_cfg.hydra
                jobs.append(
                    (
                        hydra.job.num,
                        list(job.overrides),
                        OmegaConf.to_container(job.cfg, resolve=True),
                        hydra.job.override_dirname,
                        str(Path(hydra.runtime.output_dir).relative_to(tmpdir)),
                    )
                )
    return jobs


@pytest.mark.usefixtures("hydra_restore_singletons")
@pytest.mark.parametrize("case", sorted(CASES))
def test_an_entrypoint_sweep_is_basic_sweeper_s_job_by_job(
    hydra_sweep_runner: TSweepRunner, tmpdir: Path, case: str
) -> None:
    config, command_line, _ = CASES[case]
    basic = sweep(hydra_sweep_runner, tmpdir / "basic", config, command_line)
    python = sweep(
        hydra_sweep_runner,
        tmpdir / "python",
        config,
        [
            "hydra/sweeper=python",
            f"hydra.sweeper.entrypoints=[{{_target_: compared.jobs, case: {case}}}]",
        ],
    )
    assert len(basic) == 2 ** sum(len(v) > 1 for v in CASES[case][2].values())
    # every composed config is the same; so is every string, but that lists and dicts are
    # spelt with a space after their commas and colons, as the transcripts print them
    assert [job[2] for job in python] == [job[2] for job in basic]
    for ours, theirs in zip(python, basic):
        assert list(hydra_spelling(ours)) == list(theirs)
    lists = [k for k, v in CASES[case][2].items() if isinstance(v[0], (list, dict))]
    assert (python == basic) == (not lists)


def hydra_spelling(job: Tuple[Any, ...]) -> Tuple[Any, ...]:
    """A job's strings with lists and dicts spelt as BasicSweeper spells them (no space)."""

    def spelt(text: str) -> str:
        return text.replace(", ", ",").replace(": ", ":")

    number, overrides, config, dirname, output_dir = job
    return number, [spelt(o) for o in overrides], config, spelt(dirname), spelt(output_dir)


@pytest.mark.usefixtures("hydra_restore_singletons")
@pytest.mark.parametrize(
    "config, command_line",
    [
        *[(config, command_line) for config, command_line, _ in CASES.values()],
        # overrides of one key with different prefixes all reach the job, applied in order
        ("groups", ["db=mysql,postgresql", "+db.extra=1", "db.port=1,2", "++db.port=3"]),
        ("structured", ["seed=1,2", "++seed=7", "optim=sgd", "optim.lr=0.5", "++optim.lr=0.25"]),
    ],
)
def test_a_command_line_sweep_is_basic_sweeper_s_job_by_job(
    hydra_sweep_runner: TSweepRunner, tmpdir: Path, config: str, command_line: List[str]
) -> None:
    basic = sweep(hydra_sweep_runner, tmpdir / "basic", config, command_line)
    python = sweep(
        hydra_sweep_runner, tmpdir / "python", config, ["hydra/sweeper=python", *command_line]
    )
    assert python == basic


def test_sweeps_sharing_a_fixed_dir_with_override_dirname_subdirs_are_basic_sweeper_s(
    tmp_path: Path,
) -> None:
    """Hydra's documented pattern: every sweep into one fixed dir, each job in the subdir its
    overrides name. Each later sweep takes the dir the one before ran to its end in."""
    sweeps = [["seed=1,2"], ["seed=2,3", "optim=sgd"], ["seed=1,2"]]
    written = {}
    for name, sweeper in [("basic", []), ("python", ["hydra/sweeper=python"])]:
        shared = tmp_path / name
        for command_line in sweeps:
            done = subprocess.run(
                [
                    *(sys.executable, str(APP), "--config-name", "structured", "-m"),
                    f"hydra.sweep.dir={shared}",
                    "hydra.sweep.subdir=${hydra.job.override_dirname}",
                    *sweeper,
                    *command_line,
                ],
                capture_output=True,
                text=True,
                cwd=tmp_path,
                timeout=300,
            )
            assert done.returncode == 0, done.stderr[-3000:]
        # each job's dir, with the config and the overrides Hydra wrote into it
        written[name] = {
            path.parent.parent.name: (
                path.read_text(),
                (path.parent / "overrides.yaml").read_text(),
            )
            for path in shared.glob("*/.hydra/config.yaml")
        }
    assert sorted(written["basic"]) == ["optim=sgd,seed=2", "optim=sgd,seed=3", "seed=1", "seed=2"]
    assert written["python"] == written["basic"]
