"""Validation: every job's config checked before its batch is launched, composed once per shape.

Each shape (a job's group overrides) is composed once by Hydra, and each job's value
overrides are applied to a copy of it by Hydra's own code (:mod:`.compose`): whatever full
composition would refuse, with Hydra's own errors and their causes.

Levels (``hydra.sweeper.validate``)::

    false    nothing is checked
    true     by shape (the default): whatever full composition catches
    strict   by shape, then every interpolation resolved and no ``???`` left unset,
             which full composition does not check (the task would fail on it)
    full     Hydra's full composition of every job, as BasicSweeper's launchers do it
"""

import contextlib
import copy
import inspect
import logging
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra.core.override_parser.types import Override
from hydra.errors import ConfigCompositionException
from omegaconf import AnyNode, Container, DictConfig, OmegaConf
from omegaconf.basecontainer import BaseContainer
from omegaconf.errors import OmegaConfBaseException

from hydra_python_sweeper.errors import JobError, SettingError
from hydra_python_sweeper.run.compose import LRU, SHAPES, Composer, touches_hydra

log = logging.getLogger(__name__)

LEVELS = ("shape", "strict", "full")

_MET = 1 << 17  # shapes a dry run remembers having checked
_PASSED = 1 << 14  # classes of overrides remembered as applying


def validation_level(value: Any) -> Optional[str]:
    """``hydra.sweeper.validate`` checked: ``None`` (off), ``shape``, ``strict`` or ``full``.

    >>> validation_level(True), validation_level(False), validation_level("strict")
    ('shape', None, 'strict')
    """
    if value is True:
        return "shape"
    if value is False or value is None:
        return None
    if isinstance(value, str) and value.lower() in LEVELS:
        return value.lower()
    raise SettingError(
        f"hydra.sweeper.validate={value!r}: expected true (by shape), false, strict or full"
    )


class ShapeValidator:
    """Checks jobs against the application's config, composing once per shape
    (:class:`.compose.Composer`)."""

    def __init__(self, loader: Any, config: DictConfig, strict: bool = False) -> None:
        self.composer = Composer(loader, config)
        self.strict = strict
        self.bases: Dict[Tuple[str, ...], Any] = LRU(SHAPES)  # without Hydra's node
        self.passed: Set[Tuple[Any, ...]] = set()  # overrides known to apply, by class

    def check(self, job: Sequence[str]) -> None:
        """Raise what full composition of ``job`` would raise (Hydra's exception).

        A job whose overrides are each of a class known to apply (:func:`override_classes`)
        passes without a copy of its config."""
        shape, values = self.composer.split(job)
        with_hydra = any(touches_hydra(o) for o in values)
        base = self._base(shape, with_hydra)
        classes = None if self.strict or with_hydra else override_classes(shape, values, base)
        if classes is not None and self.passed.issuperset(classes):
            return
        cfg = copy.deepcopy(base)
        for override in values:  # one at a time, as Hydra applies them: the failing one named
            try:
                ConfigLoaderImpl._apply_overrides_to_config([override], cfg)
            except OmegaConfBaseException as error:  # as load_configuration wraps it
                raise naming(ConfigCompositionException(), override) from error
            except Exception as error:
                naming(error, override)
                raise
        if self.strict:
            resolve_everything(cfg)
        if classes is not None:
            if len(self.passed) > _PASSED:
                self.passed.clear()
            self.passed.update(classes)

    def shape_of(self, job: Sequence[str]) -> Tuple[str, ...]:
        """What decides whether ``job`` composes: its group choices, and the keys (with their
        ``+``/``~`` prefixes) its other overrides set."""
        composer = self.composer
        return tuple(
            text if composer.is_group(composer.parse(text)) else text.split("=", 1)[0]
            for text in job
        )

    def _base(self, shape: Tuple[str, ...], with_hydra: bool) -> Any:
        """The config composed with these group overrides (with its ``hydra`` node where
        the job's values touch it, or the check is strict)."""
        base = self.composer.base(shape)
        if with_hydra or self.strict:
            return base
        stripped = self.bases.get(shape)
        if stripped is None:
            stripped = self.bases[shape] = copy.deepcopy(base)
            OmegaConf.set_struct(stripped, False)
            del stripped["hydra"]
            OmegaConf.set_struct(stripped, True)
        return stripped


class BatchValidator:
    """Checks the jobs of each batch at the sweep's validation ``level`` (``shape``,
    ``strict`` or ``full``) against the application's ``config``, composed by ``loader``
    (Hydra's config loader); the first job that fails is a :class:`JobError` naming it."""

    def __init__(self, level: str, loader: Any, config: DictConfig) -> None:
        self.level = level
        self.loader = loader
        self.config = config
        self.shapes: Optional[ShapeValidator] = None  # made at the first batch
        self.met: Set[Tuple[str, ...]] = set()  # the shapes the dry run has checked
        #: where a key comes from (``"entrypoint sweeps.grid"``), for the messages
        self.origin: Optional[Callable[[str], str]] = None

    def check_new(self, start: int, batch: Sequence[Sequence[str]]) -> None:
        """The dry run's check of jobs ``start``, ``start + 1``...: each job whose shape
        (:meth:`ShapeValidator.shape_of`) was not met before, at this validator's level."""
        if self.shapes is None:
            self.shapes = ShapeValidator(self.loader, self.config, self.level == "strict")
        if len(self.met) > _MET:
            self.met.clear()
        for number, job in enumerate(batch, start):
            shape = self.shapes.shape_of(job)
            if shape not in self.met:
                self.check(number, [job])
                self.met.add(shape)

    def check(self, start: int, batch: Iterable[Sequence[str]]) -> None:
        """Check jobs ``start``, ``start + 1``...; fail on the first that fails."""
        tic = time.perf_counter()
        if self.shapes is None and self.level != "full":
            self.shapes = ShapeValidator(self.loader, self.config, self.level == "strict")
        number = start
        for number, job in enumerate(batch, start):
            try:
                if self.level != "full" and self.shapes is not None:
                    self.shapes.check(job)
                else:  # full: Hydra's own composition, as its launchers do it
                    self.loader.load_sweep_config(self.config, list(job))
            except Exception as error:
                override = getattr(error, "override", None)
                where = ""
                if override is not None:
                    key = override.split("=", 1)[0]
                    origin = f" (from {self.origin(key)})" if self.origin else ""
                    where = f": its override {override}{origin}"
                raise JobError(
                    f"job #{number} ({' '.join(job)}) cannot be composed{where}: "
                    f"{error_chain(error)}"
                ) from None
        log.debug(
            f"Validated jobs #{start} to #{number} ({self.level}) in "
            f"{time.perf_counter() - tic:0.2f} seconds"
        )


def naming(error: Exception, override: Override) -> Exception:
    """``error``, with the override that raised it (its ``override``)."""
    error.override = override.input_line  # type: ignore[attr-defined]
    return error


def override_classes(
    shape: Tuple[str, ...], values: Sequence[Override], base: DictConfig
) -> Optional[List[Tuple[Any, ...]]]:
    """Classes of ``values`` (a job's value overrides, on the config ``base`` composed for
    its ``shape``) such that any override of the same class applies as well, or ``None``
    where that cannot be told.

    Overrides on keys that are not one another's, under nodes ``base`` has, apply each on
    its own: a job of them applies if each does. Setting an untyped value (or adding a key
    to an untyped dict) accepts any value of a type: its class is the type; a typed value
    may refuse one value and take another: its class is the value itself.

    >>> from hydra_python_sweeper.run.overrides import parse_plain
    >>> base = OmegaConf.create({"lr": 0.1, "model": {"depth": 2}})
    >>> parse = lambda *texts: [parse_plain(text) for text in texts]
    >>> override_classes((), parse("lr=1", "model.depth=3"), base) == override_classes(
    ...     (), parse("lr=2", "model.depth=9"), base)
    True
    >>> override_classes((), parse("+a.b=1", "a.c=2"), base) is None  # a: not in base
    True
    """
    classes: List[Tuple[Any, ...]] = []
    keys: Set[str] = set()
    for override in values:
        key = override.key_or_group
        value = override.value()
        if key in keys or isinstance(value, (list, dict)) or override.is_sweep_override():
            return None
        keys.add(key)
        path, _, leaf = key.rpartition(".")
        parent: Any = base
        for part in path.split(".") if path else ():
            parent = (
                parent._get_node(part, validate_access=False)
                if isinstance(parent, DictConfig)
                else None
            )
        if not isinstance(parent, DictConfig) or parent._is_none() or parent._is_missing():
            return None
        node = parent._get_node(leaf, validate_access=False)
        if node is None:
            untyped = parent._metadata.element_type is Any and parent._metadata.object_type in (
                None,
                dict,
            )
        else:
            untyped = isinstance(node, AnyNode) and not node._is_interpolation()
        by_type = untyped and not override.is_delete()
        classes.append((shape, override.type, key, type(value), None if by_type else value))
    if any(key.startswith(other + ".") for key in keys for other in keys):
        return None
    return classes


def resolve_everything(cfg: DictConfig) -> None:
    """Resolve every value of the application's config (not Hydra's node): a missing
    interpolation or a ``???`` left unset raises OmegaConf's error. A ``${hydra:...}``
    interpolation is left to the job (its output dir, its number... exist only there)."""
    with hydra_left_to_the_job():
        for key in cfg.keys():
            if key == "hydra":
                continue
            node = cfg._get_node(key)
            if isinstance(node, Container):
                OmegaConf.to_container(node, resolve=True, throw_on_missing=True)
            else:
                getattr(cfg, str(key))  # raises on ??? and on a missing interpolation


@contextlib.contextmanager
def hydra_left_to_the_job() -> Iterator[None]:
    """While this lasts, ``${hydra:path}`` resolves to the text ``<hydra:path>`` instead of
    needing the job's Hydra config, which is set only inside the job (Hydra's own resolver
    is put back after).

    >>> with hydra_left_to_the_job():
    ...     OmegaConf.create({"dir": "${hydra:runtime.output_dir}"}).dir
    '<hydra:runtime.output_dir>'
    """
    resolvers: Dict[str, Any] = getattr(BaseContainer, "_resolvers", {})
    saved = resolvers.get("hydra")
    # omegaconf 2.4 renamed register_new_resolver (2.1 to 2.3) to register_resolver, which
    # in 2.3 and before is another, deprecated function: told apart by 2.4's arguments
    renamed = "replace" in inspect.signature(OmegaConf.register_resolver).parameters
    register = OmegaConf.register_resolver if renamed else OmegaConf.register_new_resolver
    register("hydra", lambda path: f"<hydra:{path}>", replace=True)  # type: ignore[call-arg]
    try:
        yield
    finally:
        if saved is not None:
            resolvers["hydra"] = saved
        else:
            resolvers.pop("hydra", None)


def error_chain(error: BaseException) -> str:
    """An exception's message, then its causes' as ``caused by Type: message``.

    >>> try:
    ...     try:
    ...         int("abc")
    ...     except ValueError as e:
    ...         raise KeyError("port") from e
    ... except KeyError as e:
    ...     print(error_chain(e))
    'port'
    caused by ValueError: invalid literal for int() with base 10: 'abc'
    """
    lines: List[str] = []
    seen = set()
    current: Optional[BaseException] = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current).strip()
        if text:
            lines.append(f"caused by {type(current).__name__}: {text}" if lines else text)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return "\n".join(lines) or type(error).__name__
