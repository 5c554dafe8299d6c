"""Hydra's ``run_job``, without copying Hydra's node four times a job: what a packed task
runs each of its jobs with.

Hydra's ``run_job`` (1.2, 1.3) copies the job's composed config four times: twice to set
``HydraConfig`` (a masked copy of Hydra's node each time), once for the task's config (the
whole config, Hydra's node then deleted) and once for the ``JobReturn``'s ``hydra_cfg``.
Hydra's node is most of a config (some 700 nodes), and each copy costs OmegaConf several
milliseconds: some 16 ms of a short job's 20 in a packed task. :func:`run_job` is the same
code line for line, but for those copies:

- ``HydraConfig`` holds a *view*: a config whose one key is the job's own Hydra node (not a
  copy), that node's parent left the job's config, as Hydra's ``set_config`` leaves its
  copy's; it is set once, as the output dir is set in that very node;
- the task's config is a copy of the config but for Hydra's node (a deep copy told, by its
  memo, that Hydra's node is a placeholder), which is then deleted as Hydra deletes it;
- the ``JobReturn``'s ``hydra_cfg`` is that view. The one difference a job's callbacks can
  see: Hydra's copy loses the job's config, so an interpolation from Hydra's node into the
  job's config (``hydra.help.app_name: ${name}``) fails there and resolves here.

Each job's config is a fresh one already (:meth:`.compose.Composer.compose` copies its
shape's), and nothing writes to Hydra's node after the job: the copies protected nothing a
packed task shares. :func:`runner` answers Hydra's own ``run_job`` wherever its source is
not one of the versions this module is the copy of (Hydra 1.4 is another function), and
``tests/run/test_lean_job.py`` runs both side by side, job by job, on real applications.
"""

import copy
import functools
import hashlib
import inspect
import os
from pathlib import Path
from textwrap import dedent
from typing import Any, Callable, Optional

from omegaconf import DictConfig, OmegaConf, flag_override, open_dict, read_write
from omegaconf.nodes import AnyNode

# sha256 of ``inspect.getsource(hydra.core.utils.run_job)``: what :func:`run_job` copies
# (the two differ in ``on_job_start``'s arguments and a URL)
_COPIED = {
    "5326e12b976460e6": "1.2",  # hydra-core 1.2.0
    "398b33286c017043": "1.3",  # hydra-core 1.3.x
}


@functools.cache
def _copied_version() -> Optional[str]:
    """The Hydra version whose ``run_job`` this module copies, if the installed one is."""
    from hydra.core import utils

    try:
        source = inspect.getsource(utils.run_job)
    except (OSError, TypeError):  # no source at hand (a frozen or stripped install)
        return None
    return _COPIED.get(hashlib.sha256(source.encode()).hexdigest()[:16])


def runner() -> Callable[..., Any]:
    """The ``run_job`` a packed task calls: this module's where it is Hydra's own but for
    its copies, else Hydra's."""
    from hydra.core.utils import run_job as hydras

    return run_job if _copied_version() is not None else hydras


def view(config: DictConfig) -> DictConfig:
    """What ``HydraConfig.set_config(config)`` sets, without copying: a config whose one key
    is ``config``'s own Hydra node, read-only, its parent still ``config`` (interpolations
    from Hydra's node into the job's config resolve, as they do with Hydra's copy).

    >>> from omegaconf import OmegaConf
    >>> config = OmegaConf.create({"a": 1, "hydra": {"b": "${a}"}})
    >>> seen = view(config)
    >>> list(seen), seen.hydra.b, seen.hydra is config.hydra, OmegaConf.is_readonly(config.hydra)
    (['hydra'], 1, True, True)
    """
    node = config._get_node("hydra")
    assert isinstance(node, DictConfig)
    OmegaConf.set_readonly(node, True)
    seen = DictConfig(content={})
    with flag_override(seen, "no_deepcopy_set_nodes", True):
        seen["hydra"] = node
    node._set_parent(config)
    return seen


def without_hydra(config: DictConfig) -> DictConfig:
    """``config`` copied, but for Hydra's node, which is not in the copy: what Hydra's
    ``run_job`` hands the task (a deep copy, Hydra's node deleted), at the cost of the
    user's part alone.

    >>> from omegaconf import OmegaConf
    >>> config = OmegaConf.create({"a": [1], "hydra": {"b": 2}}); OmegaConf.set_struct(config, True)
    >>> task = without_hydra(config)
    >>> task, task.a is config.a, OmegaConf.is_struct(task)
    ({'a': [1]}, False, True)
    """
    node = config._get_node("hydra")
    task = copy.deepcopy(config, memo={id(node): AnyNode(None)})
    with read_write(task):
        with open_dict(task):
            del task["hydra"]
    return task


def run_job(
    task_function: Any,
    config: DictConfig,
    job_dir_key: str,
    job_subdir_key: Optional[str],
    hydra_context: Any,
    configure_logging: bool = True,
) -> Any:
    """Hydra's ``run_job`` (1.2, 1.3), line for line but for its copies (the module's
    docstring)."""
    from hydra import version
    from hydra._internal.deprecation_warning import deprecation_warning
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import (
        JobReturn,
        JobRuntime,
        JobStatus,
        _check_hydra_context,
        _flush_loggers,
        _save_config,
        configure_log,
        env_override,
    )

    _check_hydra_context(hydra_context)
    callbacks = hydra_context.callbacks

    old_cwd = os.getcwd()
    orig_hydra_cfg = HydraConfig.instance().cfg

    # init Hydra config for config evaluation (the view sees the output dir set below)
    hydra_cfg = view(config)
    HydraConfig.instance().cfg = hydra_cfg  # type: ignore[assignment]  # as Hydra's own

    output_dir = str(OmegaConf.select(config, job_dir_key))
    if job_subdir_key is not None:
        subdir = str(OmegaConf.select(config, job_subdir_key))
        output_dir = os.path.join(output_dir, subdir)

    with read_write(config.hydra.runtime):
        with open_dict(config.hydra.runtime):
            config.hydra.runtime.output_dir = os.path.abspath(output_dir)

    _chdir = None
    try:
        ret = JobReturn()
        task_cfg = without_hydra(config)
        ret.cfg = task_cfg
        ret.hydra_cfg = hydra_cfg
        overrides = OmegaConf.to_container(config.hydra.overrides.task)
        assert isinstance(overrides, list)
        ret.overrides = overrides
        # handle output directories here
        Path(str(output_dir)).mkdir(parents=True, exist_ok=True)

        _chdir = hydra_cfg.hydra.job.chdir

        if _chdir is None:
            if version.base_at_least("1.2"):
                _chdir = False

        if _chdir is None:
            url = "https://hydra.cc/docs/1.2/upgrades/1.1_to_1.2/changes_to_job_working_dir/"
            deprecation_warning(
                message=dedent(
                    f"""\
                    Future Hydra versions will no longer change working directory at job runtime by default.
                    See {url} for more information."""  # noqa: E501
                ),
                stacklevel=2,
            )
            _chdir = True

        if _chdir:
            os.chdir(output_dir)
            ret.working_dir = output_dir
        else:
            ret.working_dir = os.getcwd()

        if configure_logging:
            configure_log(config.hydra.job_logging, config.hydra.verbose)

        if config.hydra.output_subdir is not None:
            hydra_output = Path(config.hydra.runtime.output_dir) / Path(config.hydra.output_subdir)
            _save_config(task_cfg, "config.yaml", hydra_output)
            _save_config(hydra_cfg, "hydra.yaml", hydra_output)
            _save_config(config.hydra.overrides.task, "overrides.yaml", hydra_output)

        with env_override(hydra_cfg.hydra.job.env_set):
            if _copied_version() == "1.2":
                callbacks.on_job_start(config=config)
            else:
                callbacks.on_job_start(config=config, task_function=task_function)
            try:
                ret.return_value = task_function(task_cfg)
                ret.status = JobStatus.COMPLETED
            except Exception as e:
                ret.return_value = e
                ret.status = JobStatus.FAILED

        ret.task_name = JobRuntime.instance().get("name")

        _flush_loggers()

        callbacks.on_job_end(config=config, job_return=ret)

        return ret
    finally:
        HydraConfig.instance().cfg = orig_hydra_cfg
        if _chdir:
            os.chdir(old_cwd)
