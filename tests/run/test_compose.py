"""Configs composed once per shape against Hydra's full composition, job by job, on the real
applications of the comparison with BasicSweeper (config groups, ``db@backup``, structured
configs, ``+experiment=``)."""

from typing import Any, List, Tuple

import pytest
from compared import CASES, jobs
from omegaconf import OmegaConf

from hydra_python_sweeper.run.compose import Composer, same_config
from hydra_python_sweeper.space.format import format_job


def counting(loader: Any) -> List[Tuple[str, ...]]:
    """The jobs ``loader`` composes fully from now on."""
    calls: List[Tuple[str, ...]] = []
    compose = loader.load_sweep_config

    def counted(config: Any, overrides: List[str]) -> Any:
        calls.append(tuple(overrides))
        return compose(config, overrides)

    loader.load_sweep_config = counted
    return calls


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_job_s_config_is_hydra_s_own_composition(compose_app: Any, case: str) -> None:
    loader, master = compose_app(CASES[case][0])
    composer = Composer(loader, master)
    full_compositions = counting(loader)
    sweep = [format_job(job)[1] for job in jobs(case)] * 2  # every shape met again
    for job in sweep:
        fast, full = composer.compose(job), loader.load_sweep_config(master, job)
        assert same_config(fast, full), job
        assert OmegaConf.to_yaml(fast) == OmegaConf.to_yaml(full)
        assert list(fast.hydra.overrides.task) == job
    shapes = {composer.split(job)[0] for job in sweep}
    # by Hydra: each shape's base and its first job; every job again by the test itself
    assert len(full_compositions) == 2 * len(shapes) + len(sweep)


def test_override_dirname_follows_the_user_s_settings(compose_app: Any) -> None:
    settings = (
        "hydra.job.config.override_dirname.kv_sep=:",
        "hydra.job.config.override_dirname.exclude_keys=[db.port]",
    )
    loader, master = compose_app("groups", settings)
    composer = Composer(loader, master)
    for port in (1, 2, 3):
        job = ["db=mysql", f"db.port={port}", "owner=me", "+note='a b'"]
        fast = composer.compose(job)
        assert fast.hydra.job.override_dirname == "+note:'a b',db:mysql,owner:me"
        assert same_config(fast, loader.load_sweep_config(master, job))


@pytest.mark.parametrize(
    "job",
    [
        ["db=mysql", "db.port=abc"],  # an error: Hydra's own, from Hydra's composition
        ["db=mysql", "hydra.job.name=x"],  # Hydra's node
    ],
)
def test_what_the_copies_cannot_promise_is_composed_by_hydra(compose_app: Any, job: Any) -> None:
    loader, master = compose_app("groups")
    composer = Composer(loader, master)
    composer.compose(["db=mysql", "db.port=1", "owner=me"])  # the shape trusted
    calls = counting(loader)
    try:
        fast = composer.compose(job)
    except Exception as error:
        with pytest.raises(type(error), match="port"):
            loader.load_sweep_config(master, job)
    else:
        assert same_config(fast, loader.load_sweep_config(master, job))
    assert calls[0] == tuple(job)


def test_a_shape_hydra_composes_otherwise_is_never_copied(
    compose_app: Any, monkeypatch: Any
) -> None:
    loader, master = compose_app("groups")
    composer = Composer(loader, master)
    monkeypatch.setattr(Composer, "_compose", lambda *args: OmegaConf.create({"wrong": 1}))
    calls = counting(loader)
    for port in (1, 2, 3):
        job = ["db=mysql", f"db.port={port}"]
        assert same_config(composer.compose(job), loader.load_sweep_config(master, job))
    assert calls.count(("db=mysql", "db.port=3")) == 2  # composed by Hydra (and the test)
