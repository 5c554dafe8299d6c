"""Validation by shape against Hydra's full composition: the same jobs fail, for the same reason."""

from types import SimpleNamespace
from typing import Any, List, Optional, Tuple

import pytest

from hydra_python_sweeper.run import validate
from hydra_python_sweeper.run.validate import ShapeValidator, error_chain


def outcome(check: Any, job: List[str]) -> Optional[Tuple[str, str]]:
    """``None`` if ``job`` passes ``check``, else its error's type and whole message."""
    try:
        check(job)
    except Exception as error:
        return type(error).__name__, error_chain(error)
    return None


# (config, job): every error class full composition catches, each after jobs that pass
ERRORS = [
    ("groups", ["nope=1"]),  # a key not in the config, without +
    ("structured", ["seed=abc"]),  # a type the schema refuses
    ("structured", ["optim=sgd", "optim.momentum=fast"]),  # the same, in a group's config
    ("groups", ["db=nope"]),  # an unknown group option
    ("groups", ["db@backup=nope"]),  # the same, under a package
    ("experiments", ["+experiment=nope"]),  # an unknown option appended
    ("groups", ["+host=x"]),  # + on a key that exists
    ("groups", ["~missing"]),  # ~ on a key that does not
    ("groups", ["~db.port=1"]),  # ~ of a value the key does not have
    ("groups", ["+bad='${oops'"]),  # a malformed interpolation
    ("structured", ["optim=adam", "optim.nesterov=true"]),  # a key the group's schema lacks
]
PASSING = {
    "groups": [["db=postgresql", "db.port=1"], ["db@backup=postgresql", "+tags=[a]", "~db.user"]],
    "structured": [["optim=sgd", "optim.momentum=0.9"], ["seed=3", "tag=x"]],
    "experiments": [["+experiment=fast", "lr=0.3"], ["+experiment=long", "+data.path=/d"]],
}


@pytest.mark.parametrize("config, bad", ERRORS, ids=[" ".join(job) for _, job in ERRORS])
def test_the_same_jobs_fail_as_with_full_composition_for_the_same_reason(
    compose_app: Any, config: str, bad: List[str]
) -> None:
    loader, master = compose_app(config)
    by_shape = ShapeValidator(loader, master)
    jobs = [*PASSING[config], bad, *PASSING[config]]  # shapes met again after the failure
    full = [outcome(lambda job: loader.load_sweep_config(master, job), job) for job in jobs]
    shaped = [outcome(by_shape.check, job) for job in jobs]
    assert [f is not None for f in full] == [False, False, True, False, False]
    assert shaped == full


@pytest.mark.parametrize(
    "config, job, message",
    [
        ("groups", ["owner=me", "+url2='${nope.x}'"], "Interpolation key 'nope.x' not found"),
        ("groups", [], "Missing mandatory value: owner"),
        ("structured", ["+run='${optim.nope}'"], "Interpolation key 'optim.nope' not found"),
    ],
)
def test_strict_catches_what_full_composition_does_not(
    compose_app: Any, config: str, job: List[str], message: str
) -> None:
    loader, master = compose_app(config)
    assert outcome(lambda j: loader.load_sweep_config(master, j), job) is None
    assert outcome(ShapeValidator(loader, master).check, job) is None
    failure = outcome(ShapeValidator(loader, master, strict=True).check, job)
    assert failure is not None and message in failure[1]
    passing = ["owner=me"] if config == "groups" else []
    assert outcome(ShapeValidator(loader, master, strict=True).check, passing) is None


def test_the_error_keeps_hydra_s_causes(compose_app: Any) -> None:
    loader, master = compose_app("structured")
    failure = outcome(ShapeValidator(loader, master).check, ["seed=abc"])
    assert failure is not None
    assert failure[1].startswith("Error merging override seed=abc\ncaused by ValidationError: ")
    assert "Value 'abc' of type 'str' could not be converted to Integer" in failure[1]
    assert "full_key: seed" in failure[1]


def test_shapes_are_composed_once_and_the_cache_stays_bounded(compose_app: Any) -> None:
    loader, master = compose_app("groups")
    validator = ShapeValidator(loader, master)
    calls = []
    compose = loader.load_sweep_config

    def counting(config: Any, overrides: List[str]) -> Any:
        calls.append(tuple(overrides))
        return compose(config, overrides)

    loader.load_sweep_config = counting
    try:
        for port in range(50):
            for db in ("mysql", "postgresql"):
                validator.check([f"db={db}", f"db.port={port}", "owner=me"])
        assert sorted(calls) == [("db=mysql",), ("db=postgresql",)]
        for port in range(200):  # 200 shapes: only the most recent are kept
            validator.check(["db=mysql", f"+extra{port}=1"])
        assert len(validator.bases) <= 64
    finally:
        loader.load_sweep_config = compose


# jobs a memory of passing overrides could pass wrongly, each after jobs that pass
TRAPS = [
    ("structured", [["seed=1"], ["seed='12'"], ["seed=abc"]]),  # a typed value: by value
    ("groups", [["+extra.b=1"], ["extra.c=2"]]),  # a node the base lacks
    ("groups", [["owner=me", "~db.user"], ["owner=you", "~db.user=nobody"]]),  # ~ with a value
    ("groups", [["db=mysql", "db.port=1"], ["db=postgresql", "db.port=1"], ["+db.port=2"]]),
    ("groups", [["+x=1", "+y=a"], ["+x=2", "+y.z=b"], ["+x=3", "+x.z=c"]]),  # nested keys
    ("experiments", [["+experiment=fast", "lr=0.3"], ["+experiment=long", "lr=abc"]]),
]


@pytest.mark.parametrize("config, jobs", TRAPS, ids=[" ".join(j[-1]) for _, j in TRAPS])
def test_overrides_known_to_apply_never_pass_a_job_hydra_refuses(
    compose_app: Any, config: str, jobs: List[List[str]]
) -> None:
    loader, master = compose_app(config)
    by_shape = ShapeValidator(loader, master)
    full = [outcome(lambda job: loader.load_sweep_config(master, job), job) for job in jobs]
    assert [outcome(by_shape.check, job) for job in jobs] == full


def test_jobs_of_known_classes_pass_without_a_copy_of_their_config(
    compose_app: Any, monkeypatch: Any
) -> None:
    loader, master = compose_app("groups")
    by_shape = ShapeValidator(loader, master)
    copies = []
    deepcopy = validate.copy.deepcopy
    counting = SimpleNamespace(deepcopy=lambda x: copies.append(x) or deepcopy(x))
    monkeypatch.setattr(validate, "copy", counting)
    for i in range(100):
        by_shape.check(["owner=me", f"+x={i}", f"+label='job {i}'", f"db.port={i}"])
    assert len(copies) == 2  # the shape's base without Hydra's node, and the first job
    by_shape.check(["owner=me", "+x=1.5", "+label='job'", "db.port=3"])  # a float: new class
    assert len(copies) == 3
