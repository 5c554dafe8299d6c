"""The sweeper's settings (``hydra.sweeper.*``), checked once into one immutable value.

:meth:`Settings.of` checks what the user wrote in the sweeper's config (see :mod:`.config`)
and returns a :class:`Settings`; the rest of the sweeper reads that value, never the raw
config. Each bad setting is one :class:`SettingError` naming it::

    >>> settings = Settings.of({"max_batch_size": -1, "validate": "strict", "resume": True})
    >>> settings.batch_size, settings.validation, settings.resume
    (None, 'strict', 'resume')
    >>> try:
    ...     Settings.of({"num_shards": 0})
    ... except SettingError as error:
    ...     print(error)
    hydra.sweeper.num_shards=0: expected a positive integer
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from omegaconf import OmegaConf

from hydra_python_sweeper.errors import SettingError
from hydra_python_sweeper.run.validate import validation_level


@dataclass(frozen=True)
class Settings:
    """What the sweep was asked to do, checked (see :class:`.config.PythonSweeperConf`)."""

    #: Jobs per ``launch()``; ``None``: all in one batch.
    batch_size: Optional[int] = None
    #: As given: dotted paths or ``{_target_: ..., **kwargs}`` configs, unresolved (a list,
    #: or the config's own node, whose interpolations resolve against the whole config).
    entrypoints: Any = ()
    remove_duplicates: bool = False
    params: Tuple[Tuple[str, str], ...] = ()
    #: ``None`` (off), ``shape``, ``strict`` or ``full``.
    validation: Optional[str] = "shape"
    keep_returns: bool = True
    filters: Any = ()
    dry_run: bool = False
    preview: int = 10
    shard_index: int = 0
    num_shards: int = 1
    #: ``None`` (a new sweep), ``resume`` or ``force``.
    resume: Optional[str] = None
    fail_fast: bool = True
    #: The fraction of jobs that may fail with the sweep still done (``hydra/sweeper=
    #: python_optuna``'s, as hydra-optuna-sweeper's; this sweeper's own: 0).
    max_failure_rate: float = 0.0
    max_in_flight: int = 1
    poll_interval: float = 10.0
    retries: int = 0
    retry_failed: bool = False
    detach: bool = False
    #: Jobs a task of a packed batch runs (:mod:`.packing`); 1: not packed.
    jobs_per_task: int = 1
    #: A detached sweep's SLURM driver's options (see :mod:`cluster.driver`).
    driver: Mapping[str, Any] = field(default_factory=dict)
    #: The settings as given, for the log line (``hydra.sweeper``'s own keys).
    given: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, given: Mapping[str, Any], launcher: Any = None) -> "Settings":
        """The settings ``given`` (the keyword arguments Hydra passes the sweeper), checked;
        ``launcher``: the launcher they will drive, for the settings that depend on it."""
        size = batch_size(given.get("max_batch_size"))
        num_shards = given.get("num_shards", 1)
        shard_index = given.get("shard_index", 0)
        if not _is_int(num_shards) or num_shards < 1:
            raise SettingError(
                f"hydra.sweeper.num_shards={num_shards!r}: expected a positive integer"
            )
        if not _is_int(shard_index) or not 0 <= shard_index < num_shards:
            raise SettingError(
                f"hydra.sweeper.shard_index={shard_index!r}: expected an integer from 0 "
                f"to num_shards - 1 = {num_shards - 1}"
            )
        if num_shards > 1 and size is None:
            raise SettingError(
                "hydra.sweeper.num_shards > 1 needs hydra.sweeper.max_batch_size: shards are "
                "dealt whole batches, so every process must cut the stream the same way"
            )
        validation = validation_level(given.get("validate", True))
        resume = resume_mode(given.get("resume", False))
        in_flight = given.get("max_in_flight", 1)
        if not _is_int(in_flight) or in_flight < 1:
            raise SettingError(
                f"hydra.sweeper.max_in_flight={in_flight!r}: expected an integer >= 1"
            )
        if in_flight > 1 and runs_jobs_in_this_process(launcher):
            raise SettingError(
                f"hydra.sweeper.max_in_flight={in_flight} needs a launcher that runs "
                f"jobs in other processes (submitit, joblib, ray): {type(launcher).__name__}"
                " runs them in this process, one at a time, so its launches cannot overlap"
            )
        poll = given.get("poll_interval", 10.0)
        if isinstance(poll, bool) or not isinstance(poll, (int, float)) or not poll > 0:
            raise SettingError(
                f"hydra.sweeper.poll_interval={poll!r}: expected a number of seconds > 0"
            )
        retries = given.get("retries", 0)
        if not _is_int(retries) or retries < 0:
            raise SettingError(f"hydra.sweeper.retries={retries!r}: expected an integer >= 0")
        packing = given.get("jobs_per_task", 1)
        if not _is_int(packing) or packing < 1:
            raise SettingError(f"hydra.sweeper.jobs_per_task={packing!r}: expected an integer >= 1")
        executor = getattr(launcher, "_EXECUTOR", None)
        if packing > 1 and launcher is not None and executor not in ("slurm", "local"):
            raise SettingError(
                f"hydra.sweeper.jobs_per_task={packing} packs jobs into the tasks of "
                "hydra-submitit-launcher (hydra/launcher=submitit_slurm or submitit_local); "
                f"{type(launcher).__name__} launches each job itself: set jobs_per_task=1"
            )
        rate = failure_rate(given.get("max_failure_rate") or 0.0)
        preview = given.get("preview", 10)
        if not _is_int(preview) or preview < 0:
            raise SettingError(f"hydra.sweeper.preview={preview!r}: expected an integer >= 0")
        return cls(
            batch_size=size,
            entrypoints=given.get("entrypoints") or (),
            remove_duplicates=bool(given.get("remove_duplicates", False)),
            params=tuple((given.get("params") or {}).items()),
            validation=validation,
            keep_returns=bool(given.get("keep_returns", True)),
            filters=given.get("filters") or (),
            dry_run=bool(given.get("dry_run", False)),
            preview=preview,
            shard_index=shard_index,
            num_shards=num_shards,
            resume=resume,
            fail_fast=bool(given.get("fail_fast", True)),
            max_failure_rate=rate,
            max_in_flight=in_flight,
            poll_interval=float(poll),
            retries=retries,
            retry_failed=bool(given.get("retry_failed", False)),
            detach=bool(given.get("detach", False)),
            jobs_per_task=packing,
            driver=_mapping(given.get("driver") or {}),
            given=dict(given),
        )

    @property
    def sharded(self) -> bool:
        return self.num_shards > 1

    def shard_name(self, capital: bool = True) -> str:
        """This process's shard as the logs name it: its ``shard_index``, then the count
        (``capital``: at the start of a sentence).

        >>> settings = Settings(batch_size=2, shard_index=1, num_shards=4)
        >>> settings.shard_name(), settings.shard_name(capital=False)
        ('Shard index 1 of 4 shards', 'shard index 1 of 4 shards')
        """
        return f"{'S' if capital else 's'}hard index {self.shard_index} of {self.num_shards} shards"

    def batch_number(self, start: int, done: int) -> int:
        """The number the logs give the batch starting at job ``start``: from 1, in the
        whole sweep when batches have a size, whatever the shard (``done``: how many
        batches were launched before it).

        >>> Settings(batch_size=4).batch_number(8, 0), Settings().batch_number(0, 2)
        (3, 3)
        """
        return done + 1 if self.batch_size is None else start // self.batch_size + 1

    def cut(self) -> Dict[str, Any]:
        """How this run cuts the sweep into batches and shards, as its journal line says."""
        return {
            "max_batch_size": self.batch_size,
            "num_shards": self.num_shards,
            "shard_index": self.shard_index,
        }

    def description(self, arguments: Sequence[str]) -> Dict[str, Any]:
        """What defines this sweep's job stream, for the journal's fingerprint: settings as
        written (an ``${oc.env:TOKEN}`` stays unresolved), not the plugin's version."""
        return {
            "entrypoints": written_list(self.entrypoints),
            "arguments": list(arguments),
            "params": dict(self.params),
            "remove_duplicates": self.remove_duplicates,
            "filters": written_list(self.filters),
        }

    def command_line(self, arguments: Sequence[str]) -> List[str]:
        """``params`` as overrides, then the command line's ``arguments``, as Hydra reads them.

        >>> Settings(params=(("lr", "0.1,0.2"),)).command_line(["seed=1"])
        ['lr=0.1,0.2', 'seed=1']
        """
        return [f"{key}={value}" for key, value in self.params] + list(arguments)


def failure_rate(value: Any) -> float:
    """``max_failure_rate`` checked: a fraction of the jobs, from 0.0 to 1.0.

    >>> failure_rate(0.25), failure_rate(1)
    (0.25, 1.0)
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise SettingError(
            f"hydra.sweeper.max_failure_rate={value!r}: expected a number from 0.0 to 1.0"
        )
    return float(value)


def batch_size(value: Any) -> Optional[int]:
    """``max_batch_size`` checked: a positive int, or ``None`` (``null``/``-1``) for one batch.

    >>> batch_size(None), batch_size(-1), batch_size(1000)
    (None, None, 1000)
    """
    if value is None or value == -1:
        return None
    if not _is_int(value) or value <= 0:
        raise SettingError(
            f"hydra.sweeper.max_batch_size={value!r}: expected a positive integer, "
            "or null or -1 for a single batch"
        )
    return int(value)


def resume_mode(value: Any) -> Optional[str]:
    """``hydra.sweeper.resume`` checked: ``None`` (a new sweep), ``resume`` or ``force``.

    >>> resume_mode(False), resume_mode(True), resume_mode("force")
    (None, 'resume', 'force')
    """
    if value is False or value is None:
        return None
    if value is True:
        return "resume"
    if isinstance(value, str) and value.lower() == "force":
        return "force"
    raise SettingError(
        f"hydra.sweeper.resume={value!r}: expected true, false or force (resume, and run "
        "again the jobs the journal says are still running)"
    )


def runs_jobs_in_this_process(launcher: Any) -> bool:
    """Whether ``launcher`` is Hydra's basic launcher, which runs each job in this process
    (changing its working directory, logging and ``HydraConfig``): not safe to overlap."""
    return any(cls.__name__ == "BasicLauncher" for cls in type(launcher).__mro__)


def written_list(value: Any) -> List[Any]:
    """A list setting as plain Python, its interpolations as written (not resolved).

    >>> written_list([OmegaConf.create({"token": "${oc.env:TOKEN}"})])
    [{'token': '${oc.env:TOKEN}'}]
    >>> written_list(OmegaConf.create(["${oc.env:ENTRY}"]))
    ['${oc.env:ENTRY}']
    """
    return _plain(value, resolve=False)


def resolved_list(value: Any, setting: str) -> List[Any]:
    """A list setting as plain Python, its interpolations resolved against the whole config."""
    try:
        return _plain(value, resolve=True)
    except Exception as error:
        raise SettingError(f"hydra.sweeper.{setting}: {error}") from None


def _plain(value: Any, resolve: bool) -> List[Any]:
    if OmegaConf.is_config(value):
        return list(OmegaConf.to_container(value, resolve=resolve))  # type: ignore[arg-type]
    return [
        OmegaConf.to_container(v, resolve=resolve) if OmegaConf.is_config(v) else v for v in value
    ]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _mapping(value: Any) -> Dict[str, Any]:
    """A config node (or a dict) as a plain dict, resolved."""
    if OmegaConf.is_config(value):
        return dict(OmegaConf.to_container(value, resolve=True))  # type: ignore[arg-type]
    return dict(value)
