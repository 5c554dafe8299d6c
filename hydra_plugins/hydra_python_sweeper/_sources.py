"""Where jobs come from: the command line's sweeps and the entrypoints.

Each source becomes one or more *factors* of the job product (see
:mod:`._stages`): a zero-argument callable returning formatted jobs.

- Every key of the command line (and of ``hydra.sweeper.params``) is a factor
  holding its values, exactly as Hydra's BasicSweeper spells them.
- Every entrypoint is a factor. It is called once up front, so that a path that
  does not resolve, an object that is not callable or a result that is not
  iterable fails before any job is launched. A sized result (a list, a tuple) is
  formatted up front too and reused; a one-shot result (a generator) is consumed
  lazily, and the entrypoint is called again each time the product needs its
  jobs once more: entrypoints must be deterministic.
"""

import importlib
from collections import OrderedDict
from collections.abc import Mapping
from types import ModuleType
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from hydra.core.override_parser.types import Override

from ._errors import EntrypointError, EntrypointFailed, SettingError, describe_exception
from ._stages import Factor, FormattedJob, format_jobs, format_override, is_one_shot


def command_line_factors(overrides: Iterable[Override]) -> List[Factor]:
    """One factor per command-line key, its values in order; a repeated key's last
    occurrence wins at the place of its first (as BasicSweeper)."""
    values: Dict[str, List[str]] = OrderedDict()
    for override in overrides:
        key = override.get_key_element()
        if not override.is_sweep_override():
            values[key] = [f"{key}={override.get_value_element_as_str()}"]
        elif override.is_discrete_sweep():
            values[key] = [f"{key}={v}" for v in override.sweep_string_iterator()]
        else:
            assert override.value_type is not None
            raise SettingError(
                f"PythonSweeper does not support sweep type {override.value_type.name} "
                f"(in '{override.input_line}'): only choices and ranges can be enumerated"
            )
    return [
        _constant([format_override(key, o) for o in strings]) for key, strings in values.items()
    ]


def _constant(jobs: List[FormattedJob]) -> Factor:
    frozen = tuple(jobs)
    return lambda: frozen


def resolve(path: Any) -> Callable[..., Any]:
    """The callable at dotted ``path``: its longest importable module, then attributes,
    as Hydra resolves ``_target_``."""
    if not isinstance(path, str) or not all(path.split(".")):
        raise SettingError(
            f"hydra.sweeper.entrypoints: {path!r} is not a dotted path to a function"
        )
    parts = path.split(".")
    target = _import(path, parts[0])
    if target is None:
        raise EntrypointError(
            f"entrypoint '{path}' could not be loaded: no module named '{parts[0]}' "
            f"(is its folder on sys.path? The application's own folder is)"
        )
    for index in range(1, len(parts)):
        if hasattr(target, parts[index]):
            target = getattr(target, parts[index])
            continue
        if isinstance(target, ModuleType):
            module = _import(path, ".".join(parts[: index + 1]))
            if module is not None:
                target = module
                continue
        raise EntrypointError(
            f"entrypoint '{path}' could not be loaded: '{'.'.join(parts[:index])}' "
            f"has no attribute '{parts[index]}'"
        )
    if not callable(target):
        raise EntrypointError(f"entrypoint '{path}' is a {type(target).__name__}, not a callable")
    return target  # type: ignore[no-any-return]


def _import(path: str, module: str) -> Optional[ModuleType]:
    """The module, ``None`` if there is no such module; an error if importing it fails."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is not None and module.startswith(error.name):
            return None
        raise EntrypointError(
            f"entrypoint '{path}' could not be loaded: importing '{module}' failed: "
            f"{describe_exception(error)}"
        ) from error
    except Exception as error:
        raise EntrypointError(
            f"entrypoint '{path}' could not be loaded: importing '{module}' failed: "
            f"{describe_exception(error)}"
        ) from error


def call_entrypoint(path: str, function: Callable[[], Any]) -> Iterable[Any]:
    """Call an entrypoint and check that it returned an iterable of jobs."""
    try:
        jobs = function()
    except Exception as error:
        raise EntrypointFailed(
            f"entrypoint '{path}' raised when called: {describe_exception(error)}"
        ) from error
    if isinstance(jobs, Mapping):
        raise EntrypointError(
            f"entrypoint '{path}' returned a mapping; it must return an iterable of "
            "jobs (for a single job, return [mapping])"
        )
    if isinstance(jobs, (str, bytes)) or not isinstance(jobs, Iterable):
        raise EntrypointError(
            f"entrypoint '{path}' returned {type(jobs).__name__} {jobs!r:.80}, "
            "not an iterable of jobs"
        )
    return jobs


def entrypoint_factor(path: str) -> Factor:
    """The factor of the entrypoint at ``path``; see the module's docstring."""
    function = resolve(path)
    source = f"entrypoint '{path}'"
    first = call_entrypoint(path, function)
    if not is_one_shot(first):
        return _constant(list(format_jobs(first, source)))
    pending: List[Iterable[Any]] = [first]

    def factor() -> Iterable[FormattedJob]:
        jobs = pending.pop() if pending else call_entrypoint(path, function)
        return format_jobs(jobs, source)

    return factor


def entrypoint_factors(paths: Iterable[Any]) -> Tuple[Factor, ...]:
    """The factors of all entrypoints, in order."""
    return tuple(entrypoint_factor(path) for path in paths)
