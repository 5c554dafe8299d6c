"""A job's config composed once per shape: what validation and packed tasks share.

Composing a job's config (Hydra's ``load_sweep_config``) costs tens of milliseconds; most
of it is the *defaults list*: which config of each group to load. That depends only on a
job's group overrides (``db=mysql``, ``+experiment=fast``, ``db@backup=pg``), its *shape*.
So each shape is composed once, by Hydra, and each job's value overrides (``db.port=1``,
``+tags=[a]``, ``~x``) are applied to a copy of it by Hydra's own code, in the order Hydra
applies them: that is all full composition does after the defaults list, but for the few
fields of Hydra's node that name the job's overrides (``hydra.overrides.task``,
``hydra.job.override_dirname``), which :meth:`Composer.compose` sets as Hydra does.

:meth:`Composer.compose` is exact or it is Hydra's own composition: a job whose values touch
Hydra's node, use the sweep grammar or fail to apply is composed by Hydra; and the first
job of each shape is composed both ways and compared, node types and flags included,
before the shape's copies are trusted (a Hydra version that composes otherwise is then
composed by Hydra, job by job).
"""

import copy
import io
import logging
import os
import pickle
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple

from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.nodes import StringNode

from hydra_python_sweeper.run.overrides import parse_plain

log = logging.getLogger(__name__)

SHAPES = 64  # composed configs kept (each some 100 kB): the most recently used shapes
_OVERRIDES = 1 << 12  # override strings Hydra's grammar parsed, kept (plain ones are not)


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


def touches_hydra(override: Override) -> bool:
    """Whether ``override`` sets something under Hydra's own node."""
    return override.key_or_group.split(".", 1)[0] == "hydra"


class Composer:
    """Jobs' configs for the sweep whose master config is ``config``, composed by
    ``loader`` (Hydra's config loader) once per shape."""

    def __init__(self, loader: Any, config: DictConfig) -> None:
        self.loader = loader
        self.config = config
        self.parser = OverridesParser.create(config_loader=loader)
        self.parsed: Dict[str, Override] = LRU(_OVERRIDES)
        self.bases: Dict[Tuple[str, ...], Any] = LRU(SHAPES)
        self.copies: Dict[Tuple[str, ...], Any] = LRU(SHAPES)  # shape: a base to copy
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

    def parse(self, text: str) -> Override:
        """``text`` read as Hydra's override parser reads it: a plain override at once
        (:func:`.overrides.parse_plain`), another by the parser, kept for the next job."""
        override = parse_plain(text) or self.parsed.get(text)
        if override is None:
            override = self.parsed[text] = self.parser.parse_override(text)
        return override

    def is_group(self, override: Override) -> bool:
        """Whether Hydra's defaults list takes ``override`` (a config group's choice)."""
        if isinstance(override.value(), dict):
            return False
        group = override.key_or_group
        known = self.groups.get(group)
        if known is None:
            known = self.groups[group] = bool(self.repository.group_exists(group))
        return known

    def split(self, job: Sequence[str]) -> Tuple[Tuple[str, ...], List[Override]]:
        """``job``'s shape (its group overrides, as written) and its value overrides."""
        shape: List[str] = []
        values: List[Override] = []
        for text in job:
            override = self.parse(text)
            if self.is_group(override):
                shape.append(text)
            else:
                values.append(override)
        return tuple(shape), values

    def base(self, shape: Tuple[str, ...]) -> DictConfig:
        """The config composed with these group overrides alone, by Hydra (not to be
        changed: copy it); a composition error is kept and raised again for every job of
        the shape."""
        base = self.bases.get(shape)
        if base is None:
            try:
                base = self.loader.load_sweep_config(self.config, list(shape))
            except Exception as error:
                base = error
            self.bases[shape] = base
        if isinstance(base, Exception):
            raise base
        return base  # type: ignore[no-any-return]

    def compose(self, job: Sequence[str]) -> DictConfig:
        """``job``'s config, the same as Hydra's ``load_sweep_config(config, job)``."""
        shape, values = self.split(job)
        trusted = self.copies.get(shape)
        if trusted is False or any(touches_hydra(v) or v.is_sweep_override() for v in values):
            return self._full(job)
        try:
            config = self._compose(shape, values, job, trusted)
        except Exception:  # Hydra's own error, with its own message
            return self._full(job)
        if trusted is None:  # the shape's first job: the copies are trusted if it is Hydra's
            full = self._full(job)
            same = same_config(config, full)
            if not same:
                log.debug(f"jobs of shape {shape} are composed by Hydra, job by job")
            self.copies[shape] = _frozen(self.base(shape)) if same else False
            return full
        return config

    def _full(self, job: Sequence[str]) -> DictConfig:
        """``job`` composed by Hydra, as its launchers compose it."""
        config: DictConfig = self.loader.load_sweep_config(self.config, list(job))
        return config

    def _compose(
        self, shape: Tuple[str, ...], values: List[Override], job: Sequence[str], frozen: Any
    ) -> DictConfig:
        config = _thaw(frozen) if frozen is not None else copy.deepcopy(self.base(shape))
        ConfigLoaderImpl._apply_overrides_to_config(values, config)
        task = [o for o in map(self.parse, job) if not o.is_hydra_override()]  # parsed once
        hydra = config.hydra
        _set_strings(hydra.overrides, "task", [str(o.input_line) for o in task])
        # Hydra 1.4 interpolates it from the task's overrides (its own resolver); before, a
        # value set at composition
        dynamic = OmegaConf.is_interpolation(hydra.job, "override_dirname")
        if not dynamic and isinstance(hydra.job.get("override_dirname"), str):
            from hydra._internal.config_loader_impl import get_overrides_dirname

            dirname = hydra.job.config.override_dirname
            hydra.job.override_dirname = get_overrides_dirname(
                overrides=task,
                kv_sep=dirname.kv_sep,
                item_sep=dirname.item_sep,
                exclude_keys=dirname.exclude_keys,
            )
        hydra.runtime.cwd = os.getcwd()
        for key in hydra.job.env_copy:
            hydra.job.env_set[key] = os.environ[key]
        OmegaConf.copy_cache(from_config=self.config, to_config=config)
        return config


def _set_strings(node: DictConfig, key: str, values: List[str]) -> None:
    """``node[key] = values``, a list of strings: the list's own string nodes given the new
    values where it has as many (a sixth of the time of a new list, whose every item
    OmegaConf wraps and validates: a tenth of a packed job's composition).

    >>> from hydra.conf import OverridesConf
    >>> overrides = OmegaConf.structured(OverridesConf(task=["a=1"]))
    >>> _set_strings(overrides, "task", ["a=2"]); _set_strings(overrides, "task", ["b=1", "c=2"])
    >>> overrides.task, type(overrides.task._get_node(0)).__name__
    (['b=1', 'c=2'], 'StringNode')
    """
    items = node._get_node(key)
    if (
        isinstance(items, ListConfig)
        and not items._is_none() and not items._is_missing() and not items._is_interpolation()
        and len(items) == len(values)
        and all(type(items._get_node(i)) is StringNode for i in range(len(values)))
    ):  # fmt: skip
        for i, value in enumerate(values):
            items._get_node(i)._set_value(value)  # type: ignore[union-attr]
    else:
        node[key] = values


def _frozen(base: DictConfig) -> Any:
    """What a shape's jobs copy: its base pickled (loading it is about three times faster
    than a deep copy), its classes kept by identity (Hydra's plugin discovery can leave a
    schema class that pickle would not find under its name), else the base itself."""
    classes: List[type] = []
    buffer = io.BytesIO()
    try:
        _Pickler(buffer, classes).dump(base)
    except Exception as error:
        log.debug(f"a composed config does not pickle ({error!r}): deep copies")
        return base
    return buffer.getvalue(), classes


class _Pickler(pickle.Pickler):
    def __init__(self, file: Any, classes: List[type]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.classes = classes
        self.seen: Dict[int, int] = {}

    def persistent_id(self, obj: Any) -> Optional[int]:
        if not isinstance(obj, type):
            return None
        index = self.seen.get(id(obj))
        if index is None:
            index = self.seen[id(obj)] = len(self.classes)
            self.classes.append(obj)
        return index


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, classes: List[type]) -> None:
        super().__init__(io.BytesIO(data))
        self.classes = classes

    def persistent_load(self, index: Any) -> Any:
        return self.classes[index]


def _thaw(frozen: Any) -> DictConfig:
    if isinstance(frozen, tuple):
        config: DictConfig = _Unpickler(*frozen).load()
        return config
    return copy.deepcopy(frozen)  # type: ignore[no-any-return]


def same_config(a: Any, b: Any) -> bool:
    """Whether two configs are the same node for node: values, node and declared types,
    and flags (struct, readonly...), resolving nothing.

    >>> same_config(OmegaConf.create({"a": [1]}), OmegaConf.create({"a": [1]}))
    True
    >>> c = OmegaConf.create({"a": 1}); OmegaConf.set_struct(c, True)
    >>> same_config(c, OmegaConf.create({"a": 1}))
    False
    """
    if type(a) is not type(b):
        return False
    meta_a, meta_b = a._metadata, b._metadata
    if (meta_a.ref_type, meta_a.object_type, meta_a.key, meta_a.optional, meta_a.flags) != (
        meta_b.ref_type,
        meta_b.object_type,
        meta_b.key,
        meta_b.optional,
        meta_b.flags,
    ):
        return False
    if isinstance(a, DictConfig):
        if a._is_none() or a._is_missing() or a._is_interpolation():
            return bool(a._value() == b._value())
        keys = list(a.keys())
        if keys != list(b.keys()):
            return False
        return all(same_config(a._get_node(k), b._get_node(k)) for k in keys)
    if isinstance(a, ListConfig):
        if a._is_none() or a._is_missing() or a._is_interpolation():
            return bool(a._value() == b._value())
        return len(a) == len(b) and all(
            same_config(a._get_node(i), b._get_node(i)) for i in range(len(a))
        )
    value_a: Optional[Any] = a._value()
    return type(value_a) is type(b._value()) and bool(value_a == b._value())
