"""Hydra's sweep grammar as Optuna's distributions: the same values Hydra's own sweeps give."""

from typing import Any, List

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hydra_python_sweeper.errors import SettingError
from hydra_python_sweeper.optuna.space import from_overrides, grid, search_space


def swept(expression: str) -> List[Any]:
    """The values Hydra's BasicSweeper gives ``key=expression``."""
    (override,) = OverridesParser.create().parse_overrides([f"key={expression}"])
    return list(override.sweep_iterator())


@pytest.mark.parametrize(
    "expression",
    ["range(1, 5)", "range(0, 10, 3)", "range(-3, 4)", "range(0.5, 2.5, 0.5)", "range(5, 0, -1)"],
)
def test_a_range_holds_the_values_hydra_sweeps_and_no_other(expression: str) -> None:
    if expression == "range(5, 0, -1)":
        with pytest.raises(SettingError, match="a range's step must be > 0"):
            search_space({"key": expression})
        return
    space, _ = search_space({"key": expression})
    assert grid(space)["key"] == swept(expression)


def test_choices_keep_their_types_and_text() -> None:
    space, _ = search_space({"c": "choice(adam, 'with space', 3, 0.5, true)"})
    assert space["c"] == CategoricalDistribution(["adam", "with space", 3, 0.5, True])
    assert search_space({"s": "shuffle(range(3))"})[0]["s"].choices  # a choice, in any order


def test_intervals_are_floats_or_integers_on_a_linear_or_log_scale() -> None:
    space, _ = search_space(
        {
            "a": "interval(1, 5)",
            "b": "tag(log, interval(1e-4, 1e-1))",
            "c": "tag(int, interval(1, 64))",
            "d": "tag(int, log, interval(1, 1024))",
        }
    )
    assert space == {
        "a": FloatDistribution(1.0, 5.0),
        "b": FloatDistribution(1e-4, 1e-1, log=True),
        "c": IntDistribution(1, 64),
        "d": IntDistribution(1, 1024, log=True),
    }


def test_values_that_are_not_sweeps_are_fixed_and_the_last_word_wins() -> None:
    space, fixed = from_overrides(["x=interval(0, 1)", "+seed=3", "x=0.5", "db=mysql"])
    assert space == {} and fixed == {"x": 0.5, "+seed": 3, "db": "mysql"}


@pytest.mark.parametrize(
    "params, message",
    [
        ({"x": "interval(5, 1)"}, "hydra.sweeper.params.x: .*low < high"),
        ({"x": "tag(log, interval(0, 1))"}, "hydra.sweeper.params.x: a log interval's bounds"),
        ({"x": "choice([1], [2])"}, "hydra.sweeper.params.x: choice \\[1\\] is a list"),
        ({"x": "range(3, 3)"}, "hydra.sweeper.params.x: .* has no value"),
        ({"x": "choice(a,"}, "hydra.sweeper.params: 'x=choice\\(a,' is not an override"),
    ],
)
def test_a_space_that_cannot_be_is_one_clear_error(params: Any, message: str) -> None:
    with pytest.raises(SettingError, match=message):
        search_space(params)


def test_the_grid_needs_values_it_can_count() -> None:
    with pytest.raises(SettingError, match="the grid sampler needs a choice or a range"):
        grid(search_space({"x": "interval(0, 1)"})[0])
