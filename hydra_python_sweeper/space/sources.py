"""Where jobs come from: the command line's sweeps and the entrypoints.

Each source becomes one or more *factors* of the job product (see
:mod:`.stages`): a zero-argument callable returning formatted jobs.

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
import inspect
from collections import OrderedDict
from collections.abc import Mapping, Sized
from types import ModuleType
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from hydra.core.override_parser.types import Override, QuotedString

from hydra_python_sweeper.errors import (
    EntrypointError,
    EntrypointFailed,
    PythonSweeperError,
    SettingError,
    describe_exception,
)
from hydra_python_sweeper.space.format import FormattedJob, Formatter
from hydra_python_sweeper.space.product import Factor
from hydra_python_sweeper.space.results import Results
from hydra_python_sweeper.space.stages import format_jobs, is_one_shot


class Constant:
    """A factor whose jobs are known up front: the same tuple on every pass, sized; ``name``:
    the source's, for messages."""

    __slots__ = ("jobs", "name")

    def __init__(self, jobs: Iterable[FormattedJob], name: str = "the command line") -> None:
        self.jobs = tuple(jobs)
        self.name = name

    def __call__(self) -> Tuple[FormattedJob, ...]:
        return self.jobs

    def __len__(self) -> int:
        return len(self.jobs)


def command_line_factors(overrides: Iterable[Override], formatter: Formatter) -> List[Factor]:
    """One factor per command-line key, its values in order; a repeated key's last
    occurrence wins at the place of its first (as BasicSweeper)."""
    format_override = formatter.override
    values: Dict[str, List[FormattedJob]] = OrderedDict()
    for override in overrides:
        key = override.get_key_element()
        if override.is_delete() and override.value_type is None:
            # a bare ~key: passed as written, which deletes the key whatever its value in
            # every Hydra version (BasicSweeper writes ~key=null, which Hydra 1.4 reads as
            # "delete it if it is null")
            values[key] = [format_override(key, key, None)]
        elif not override.is_sweep_override():
            text = override.get_value_element_as_str()
            values[key] = [format_override(key, f"{key}={text}", plain(override.value()))]
        elif override.is_discrete_sweep():
            values[key] = [
                format_override(key, f"{key}={text}", plain(value))
                for text, value in zip(override.sweep_string_iterator(), override.sweep_iterator())
            ]
        else:
            assert override.value_type is not None
            raise SettingError(
                f"PythonSweeper does not support sweep type {override.value_type.name} "
                f"(in '{override.input_line}'): only choices and ranges can be enumerated"
            )
    return [Constant(jobs) for jobs in values.values()]


def plain(value: Any) -> Any:
    """A parsed command-line value as plain Python (quoted strings as ``str``)."""
    if isinstance(value, QuotedString):
        return value.text
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def resolve(path: Any, kind: str = "entrypoint") -> Callable[..., Any]:
    """The callable at dotted ``path`` (an entrypoint or a filter, says ``kind``): its
    module, then attributes, as Hydra resolves ``_target_``."""
    if not isinstance(path, str) or not all(path.split(".")):
        raise SettingError(f"hydra.sweeper.{kind}s: {path!r} is not a dotted path to a function")
    what = f"{kind} '{path}'"
    parts = path.split(".")
    target = _import(what, parts[0])
    if target is None:
        raise EntrypointError(
            f"{what} could not be loaded: no module named '{parts[0]}' (the folder of the "
            "application's script is on sys.path, and so are installed packages)"
        )
    for index in range(1, len(parts)):
        if hasattr(target, parts[index]):
            target = getattr(target, parts[index])
            continue
        if isinstance(target, ModuleType):
            module = _import(what, ".".join(parts[: index + 1]))
            if module is not None:
                target = module
                continue
        raise EntrypointError(
            f"{what} could not be loaded: '{'.'.join(parts[:index])}' "
            f"has no attribute '{parts[index]}'"
        )
    if not callable(target):
        raise EntrypointError(f"{what} is a {type(target).__name__}, not a callable")
    return target  # type: ignore[no-any-return]


def _import(what: str, module: str) -> Optional[ModuleType]:
    """The module, ``None`` if there is no such module; an error if importing it fails."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is not None and module.startswith(error.name):
            return None
        failure: Exception = error
    except Exception as error:
        failure = error
    raise EntrypointError(
        f"{what} could not be loaded: importing '{module}' failed: {describe_exception(failure)}"
    ) from failure


class Entrypoint:
    """An entry of ``hydra.sweeper.entrypoints``: ``"pkg.mod.func"``, or
    ``{_target_: "pkg.mod.func", arg: value, ...}`` to call it with keyword arguments."""

    def __init__(self, entry: Any, written: Any = None) -> None:
        # ``written``: the entry as the config writes it (an ${oc.env:TOKEN} unresolved),
        # which messages show instead of the values it is called with.
        shown = (
            dict(written)
            if isinstance(written, Mapping)
            else dict(entry)
            if isinstance(entry, Mapping)
            else {}
        )
        shown.pop("_target_", None)
        if isinstance(entry, Mapping):
            kwargs = dict(entry)
            path = kwargs.pop("_target_", None)
            if path is None:
                raise SettingError(
                    f"hydra.sweeper.entrypoints: {entry!r} has no _target_ (the function's path)"
                )
        else:
            path, kwargs = entry, {}
        self.function = resolve(path)
        self.path: str = path
        self.kwargs: Dict[str, Any] = kwargs
        self.name = f"entrypoint '{path}'"
        self.results: Optional[Results] = None
        #: Whether it takes the sweep's results (a parameter named ``results``): adaptive.
        self.adaptive = False
        try:
            signature = inspect.signature(self.function)
        except ValueError:
            return  # no signature to check (a builtin): calling it will tell
        self.adaptive = "results" in signature.parameters and "results" not in kwargs
        try:
            bound = {**kwargs, "results": None} if self.adaptive else kwargs
            signature.bind(**bound)
        except TypeError as error:
            raise EntrypointError(f"{self.name} cannot be called with {shown}: {error}") from None

    def __call__(self) -> Iterable[Any]:
        """Call the entrypoint and check that it returned an iterable of jobs."""
        try:
            if self.adaptive:
                jobs = self.function(**self.kwargs, results=self.results)
            else:
                jobs = self.function(**self.kwargs)
        except PythonSweeperError:
            raise  # an entrypoint of the sweeper's own, which says what is wrong itself
        except Exception as error:
            raise EntrypointFailed(
                f"{self.name} raised when called: {describe_exception(error)}"
            ) from error
        if isinstance(jobs, Mapping):
            raise EntrypointError(
                f"{self.name} returned a mapping; it must return an iterable of "
                "jobs (for a single job, return [mapping])"
            )
        if isinstance(jobs, (str, bytes)) or not isinstance(jobs, Iterable):
            raise EntrypointError(
                f"{self.name} returned {type(jobs).__name__} {jobs!r:.80}, not an iterable of jobs"
            )
        return jobs


class Generated:
    """The factor of an entrypoint that returned a one-shot iterable (a generator): its
    jobs are drawn lazily, and the entrypoint is called again for each further pass."""

    def __init__(self, entrypoint: Entrypoint, first: Iterable[Any], formatter: Formatter):
        self.entrypoint = entrypoint
        self.formatter = formatter
        self.pending = [first]
        #: The name errors give it, and whether it takes results (an adaptive sweep).
        self.name = entrypoint.name
        self.adaptive = entrypoint.adaptive

    def jobs(self) -> Iterable[Any]:
        """The jobs of the next pass, as the entrypoint yields them (not formatted)."""
        return self.pending.pop() if self.pending else self.entrypoint()

    def __call__(self) -> Iterable[FormattedJob]:
        return format_jobs(self.jobs(), self.name, self.formatter)


def entrypoint_factor(
    entry: Any, formatter: Formatter, results: Optional[Results] = None, written: Any = None
) -> Factor:
    """The factor of one entry of ``hydra.sweeper.entrypoints``; see the module's docstring.
    An adaptive entrypoint is called with ``results``; its factor says it is adaptive.
    ``written``: the entry as written, for messages."""
    entrypoint = Entrypoint(entry, written)
    entrypoint.results = results if results is not None else Results()
    first = entrypoint()
    if not is_one_shot(first):
        return Constant(format_jobs(first, entrypoint.name, formatter), entrypoint.name)
    return Generated(entrypoint, first, formatter)


def entrypoint_factors(
    entries: Iterable[Any],
    formatter: Formatter,
    results: Optional[Results] = None,
    written: Optional[Sequence[Any]] = None,
) -> Tuple[Factor, ...]:
    """The factors of all entrypoints, in order; adaptive ones see ``results``; ``written``:
    the entries as written (unresolved), for messages."""
    entries = list(entries)
    shown = list(written) if written is not None else [None] * len(entries)
    return tuple(
        entrypoint_factor(entry, formatter, results, as_written)
        for entry, as_written in zip(entries, shown)
    )


def is_adaptive(factor: Factor) -> bool:
    """Whether ``factor`` is an adaptive entrypoint's (it takes the sweep's results)."""
    return bool(getattr(factor, "adaptive", False))


def filters(paths: Iterable[Any]) -> List[Tuple[str, Callable[[Dict[str, Any]], Any]]]:
    """The predicates of ``hydra.sweeper.filters``, each with its path."""
    return [(path, resolve(path, kind="filter")) for path in paths]


def total_jobs(factors: Sequence[Factor]) -> Optional[int]:
    """The product's size when every factor is sized, else ``None``.

    >>> total_jobs([Constant([1, 2]), Constant("abc")]), total_jobs([lambda: iter(())])
    (6, None)
    """
    total = 1
    for factor in factors:
        if not isinstance(factor, Sized):
            return None
        total *= len(factor)
    return total
