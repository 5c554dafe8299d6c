"""The task function as the sweeper hands it to the launcher: ``sys.exit`` is a failure.

A task that calls ``sys.exit(n)`` raises ``SystemExit``, which Hydra's ``run_job`` does not
catch (it catches ``Exception``): with the basic launcher it would end the whole sweep with
the job's exit code, ``0`` for ``sys.exit(0)``, and no summary. Wrapped, it is that job's
failure, recorded in the journal and handled by ``fail_fast`` like any other::

    >>> task = ExitIsFailure(lambda cfg: exit(3))
    >>> try:
    ...     task(None)
    ... except TaskExited as error:
    ...     print(error)
    the task called sys.exit(3)
"""

import functools
from typing import Any, Callable


class TaskExited(Exception):
    """The job's task called ``sys.exit``: its failure."""


class ExitIsFailure:
    """``task``, with ``SystemExit`` raised as :class:`TaskExited` (picklable, as launchers
    that run jobs elsewhere need)."""

    def __init__(self, task: Callable[..., Any]) -> None:
        self.task = task
        functools.update_wrapper(self, task)  # its __name__, __module__, __doc__

    def __call__(self, cfg: Any) -> Any:
        try:
            return self.task(cfg)
        except SystemExit as exit:
            raise TaskExited(f"the task called sys.exit({exit.code!r})") from None
