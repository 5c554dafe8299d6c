"""A search space in Hydra's sweep grammar, as Optuna's distributions.

Each ``key: expression`` of ``params`` (and each sweep override of the command line) is one
parameter, as hydra-optuna-sweeper reads it; a value that is not a sweep is fixed, given to
every trial::

    >>> space, fixed = search_space({"lr": "tag(log, interval(1e-4, 1e-1))",
    ...                              "layers": "range(1, 5)", "opt": "choice(adam, sgd)",
    ...                              "seed": "0"})
    >>> space["lr"]
    FloatDistribution(high=0.1, log=True, low=0.0001, step=None)
    >>> space["layers"], space["opt"].choices, fixed
    (IntDistribution(high=4, log=False, low=1, step=1), ('adam', 'sgd'), {'seed': 0})

``range`` keeps the grammar's meaning everywhere in Hydra: its stop is not among the values
(``range(1, 5)``: 1 to 4). ``interval`` is a float between its bounds, an integer with the
``int`` tag (``tag(int, interval(1, 64))``), on a log scale with the ``log`` tag.
"""

from typing import Any, Dict, Iterable, List, Mapping, Tuple

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (
    ChoiceSweep,
    IntervalSweep,
    Override,
    RangeSweep,
)
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from hydra_python_sweeper.errors import SettingError
from hydra_python_sweeper.space.sources import plain

#: What Optuna's categorical distribution takes.
CHOICES = (str, int, float, bool, type(None))


def search_space(
    params: Mapping[str, Any], parser: Any = None
) -> Tuple[Dict[str, BaseDistribution], Dict[str, Any]]:
    """``params`` (key: expression, as ``hydra.sweeper.params``) as the distributions of the
    swept keys and the values of the fixed ones."""
    overrides = [f"{key}={value}" for key, value in params.items()]
    return from_overrides(overrides, parser)


def from_overrides(
    overrides: Iterable[str], parser: Any = None
) -> Tuple[Dict[str, BaseDistribution], Dict[str, Any]]:
    """Override strings (``key=expression``) as distributions and fixed values.

    >>> from_overrides(["x=interval(-5, 5)", "+y=3"])
    ({'x': FloatDistribution(high=5.0, log=False, low=-5.0, step=None)}, {'+y': 3})
    """
    parser = parser or OverridesParser.create()
    space: Dict[str, BaseDistribution] = {}
    fixed: Dict[str, Any] = {}
    for text in overrides:
        try:
            (override,) = parser.parse_overrides([text])
        except Exception as error:
            raise SettingError(
                f"hydra.sweeper.params: {text!r} is not an override: {error}"
            ) from None
        key = override.get_key_element()
        if override.is_sweep_override():
            space[key] = distribution(override)
            fixed.pop(key, None)
        else:
            fixed[key] = plain(override.value())
            space.pop(key, None)
    return space, fixed


def distribution(override: Override) -> BaseDistribution:
    """One sweep override as the distribution Optuna samples."""
    key = override.get_key_element()
    value = override.value()
    if isinstance(value, ChoiceSweep) or (isinstance(value, RangeSweep) and value.shuffle):
        return categorical(key, [plain(v) for v in override.sweep_iterator()])
    if isinstance(value, RangeSweep):
        values: List[Any] = list(override.sweep_iterator())
        if not values:
            raise SettingError(f"hydra.sweeper.params.{key}: {value} has no value")
        start, step = values[0], value.step
        if any(isinstance(v, float) for v in (value.start, value.stop, value.step)):
            if step <= 0:
                raise SettingError(f"hydra.sweeper.params.{key}: a range's step must be > 0")
            return FloatDistribution(float(start), float(values[-1]), step=float(step))
        if step <= 0:
            raise SettingError(f"hydra.sweeper.params.{key}: a range's step must be > 0")
        return IntDistribution(int(start), int(values[-1]), step=int(step))
    if isinstance(value, IntervalSweep):
        low, high = value.start, value.end
        log = "log" in value.tags
        if low is None or high is None or not low < high:
            raise SettingError(
                f"hydra.sweeper.params.{key}: {value}: expected an interval's low < high"
            )
        if log and low <= 0:
            raise SettingError(
                f"hydra.sweeper.params.{key}: a log interval's bounds must be > 0, not {low}"
            )
        if "int" in value.tags:
            return IntDistribution(int(low), int(high), log=log)
        return FloatDistribution(float(low), float(high), log=log)
    raise SettingError(
        f"hydra.sweeper.params.{key}: {override.input_line!r} is not a search space "
        "(choice, range or interval)"
    )


def categorical(key: str, choices: List[Any]) -> CategoricalDistribution:
    """A choice among ``choices``, each a value Optuna can store."""
    for choice in choices:
        if not isinstance(choice, CHOICES):
            raise SettingError(
                f"hydra.sweeper.params.{key}: choice {choice!r} is a {type(choice).__name__}: "
                "Optuna's choices are strings, numbers, booleans or null"
            )
    return CategoricalDistribution(choices)


def grid(space: Mapping[str, BaseDistribution]) -> Dict[str, List[Any]]:
    """Every value of each parameter, for Optuna's ``GridSampler``.

    >>> grid(from_overrides(["a=range(0, 3)", "b=choice(x, y)"])[0])
    {'a': [0, 1, 2], 'b': ['x', 'y']}
    """
    values: Dict[str, List[Any]] = {}
    for key, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            values[key] = list(dist.choices)
        elif isinstance(dist, (IntDistribution, FloatDistribution)) and dist.step and not dist.log:
            count = round((dist.high - dist.low) / dist.step) + 1
            values[key] = [type(dist.low)(dist.low + i * dist.step) for i in range(count)]
        else:
            raise SettingError(
                f"hydra.sweeper.params.{key}: the grid sampler needs a choice or a range, "
                "not a continuous interval"
            )
    return values
