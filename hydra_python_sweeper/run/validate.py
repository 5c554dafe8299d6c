"""Validation: every job's config checked before its batch is launched, composed once per shape.

Composing a job's config (Hydra's ``load_sweep_config``) costs about a tenth of a second;
most of it is the *defaults list*: which config of each group to load. That depends only
on a job's group overrides (``db=mysql``, ``+experiment=fast``, ``db@backup=pg``), its
*shape*. So each shape is composed once, and each job's value overrides (``db.port=1``,
``+tags=[a]``, ``~x``) are applied to a copy of it, by Hydra's own code, in the order
Hydra applies them: that is all full composition does after the defaults list. Errors are
Hydra's own, with their causes.

Levels (``hydra.sweeper.validate``)::

    false    nothing is checked
    true     by shape (the default): whatever full composition catches
    strict   by shape, then every interpolation resolved and no ``???`` left unset,
             which full composition does not check (the task would fail on it)
    full     Hydra's full composition of every job, as BasicSweeper's launchers do it
"""

import contextlib
import copy
import logging
import time
from collections import OrderedDict
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import ConfigCompositionException
from omegaconf import Container, DictConfig, OmegaConf
from omegaconf.basecontainer import BaseContainer
from omegaconf.errors import OmegaConfBaseException

from hydra_python_sweeper.errors import JobError, SettingError

log = logging.getLogger(__name__)

LEVELS = ("shape", "strict", "full")

_SHAPES = 64  # composed configs kept (each some 100 kB): the most recently used shapes
_OVERRIDES = 1 << 16  # parsed override strings kept
_MET = 1 << 17  # shapes a dry run remembers having checked


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


class LRU(OrderedDict):  # type: ignore[type-arg]
    """A dict that keeps its ``size`` most recently used entries.

    >>> cache = LRU(2); cache["a"] = 1; cache["b"] = 2; _ = cache.get("a"); cache["c"] = 3
    >>> list(cache)
    ['a', 'c']
    """

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get(self, key: Any, default: Any = None) -> Any:
        if key in self:
            self.move_to_end(key)
            return self[key]
        return default

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        if len(self) > self.size:
            self.popitem(last=False)


class ShapeValidator:
    """Checks jobs against the application's config, composing once per shape."""

    def __init__(self, loader: Any, config: DictConfig, strict: bool = False) -> None:
        self.loader = loader
        self.config = config
        self.strict = strict
        self.parser = OverridesParser.create(config_loader=loader)
        self.parsed: Dict[str, Override] = LRU(_OVERRIDES)
        self.bases: Dict[Tuple[str, ...], Any] = LRU(_SHAPES)
        self.groups: Dict[str, bool] = {}
        self.repository = self._repository()

    def _repository(self) -> Any:
        """The config repository as composition sees it (the primary config's search path
        included), for telling group overrides from value overrides."""
        hydra_overrides = OmegaConf.to_container(self.config.hydra.overrides.hydra)
        name = self.config.hydra.job.config_name
        try:
            _, repository = self.loader._parse_overrides_and_create_caching_repo(
                name, hydra_overrides
            )
            return repository
        except AttributeError:  # another Hydra version: its plain repository
            return self.loader.repository

    def check(self, job: Sequence[str]) -> None:
        """Raise what full composition of ``job`` would raise (Hydra's exception)."""
        overrides = [self._parse(text) for text in job]
        shape: List[str] = []
        values: List[Override] = []
        for override in overrides:
            if self._is_group(override):
                shape.append(str(override.input_line))
            else:
                values.append(override)
        base = self._base(tuple(shape), any(_touches_hydra(o) for o in values))
        cfg = copy.deepcopy(base)
        try:
            ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
        except OmegaConfBaseException as error:  # as load_configuration wraps it
            raise ConfigCompositionException() from error
        if self.strict:
            resolve_everything(cfg)

    def shape_of(self, job: Sequence[str]) -> Tuple[str, ...]:
        """What decides whether ``job`` composes: its group choices, and the keys (with their
        ``+``/``~`` prefixes) its other overrides set."""
        return tuple(
            text if self._is_group(self._parse(text)) else text.split("=", 1)[0] for text in job
        )

    def _parse(self, text: str) -> Override:
        override = self.parsed.get(text)
        if override is None:
            override = self.parsed[text] = self.parser.parse_override(text)
        return override

    def _is_group(self, override: Override) -> bool:
        """Whether Hydra's defaults list takes ``override`` (a config group's choice)."""
        if isinstance(override.value(), dict):
            return False
        group = override.key_or_group
        known = self.groups.get(group)
        if known is None:
            known = self.groups[group] = bool(self.repository.group_exists(group))
        return known

    def _base(self, shape: Tuple[str, ...], with_hydra: bool) -> Any:
        """The config composed with these group overrides (with or without its ``hydra``
        node); a composition error is kept and raised again for every job of the shape."""
        key = (*shape, "hydra" if with_hydra or self.strict else "")
        base = self.bases.get(key)
        if base is None:
            try:
                base = self.loader.load_sweep_config(self.config, list(shape))
                if not (with_hydra or self.strict):
                    OmegaConf.set_struct(base, False)
                    del base["hydra"]
                    OmegaConf.set_struct(base, True)
            except Exception as error:
                base = error
            self.bases[key] = base
        if isinstance(base, Exception):
            raise base
        return base


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
                raise JobError(
                    f"job #{number} ({' '.join(job)}) cannot be composed: {error_chain(error)}"
                ) from None
        log.debug(
            f"Validated jobs #{start} to #{number} ({self.level}) in "
            f"{time.perf_counter() - tic:0.2f} seconds"
        )


def _touches_hydra(override: Override) -> bool:
    return override.key_or_group.split(".", 1)[0] == "hydra"


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
    OmegaConf.register_new_resolver("hydra", lambda path: f"<hydra:{path}>", replace=True)
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
