"""The task function as the sweeper hands it to the launcher: any exit of a job is its failure.

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
import threading
from typing import Any, Callable, NoReturn

from hydra_python_sweeper.journal.fence import Superseded, stood_down
from hydra_python_sweeper.journal.termination import interrupted, leave, running


class TaskExited(Exception):
    """The job's task called ``sys.exit``, or raised a ``BaseException`` that is not an
    ``Exception`` (its own ``KeyboardInterrupt`` included): its failure."""


#: Set by the sweeper when its process receives a Ctrl-C (SIGINT): a ``KeyboardInterrupt``
#: raised inside a job running in that process (Hydra's basic launcher) is then the user's
#: Ctrl-C of the sweep, not the job's own.
CTRL_C = threading.Event()

#: Set by a packed task being checkpointed (preempted, or at its time limit): submitit then
#: requeues it and exits its process with ``sys.exit``, from inside the job it was running;
#: that exit is the task's, not the job's (the job, without an end, is lost, not failed).
CHECKPOINTED = threading.Event()


class ExitIsFailure:
    """``task``, with ``SystemExit`` and the other ``BaseException`` subclasses raised as
    :class:`TaskExited` (picklable, as launchers that run jobs elsewhere need), but the
    Ctrl-C of the sweep itself (:data:`CTRL_C`)."""

    def __init__(self, task: Callable[..., Any]) -> None:
        self.task = task
        functools.update_wrapper(self, task)  # its __name__, __module__, __doc__

    def __call__(self, cfg: Any) -> Any:
        from hydra.core.hydra_config import HydraConfig

        number = int(HydraConfig.get().job.num) if HydraConfig.initialized() else -1
        if stood_down(number):
            raise Superseded(
                f"job #{number} started after a newer run of its sweep had begun: it stands "
                "down (the newer run runs it)"
            )
        try:
            with running():  # a Ctrl-C, a cancel's SIGTERM raise Interrupted in it
                return self.task(cfg)
        except BaseException as error:
            signum = interrupted()  # whatever the function made of it, the job stops
            if signum:  # in a job's own process: no end, the resume runs it again
                leave(signum)
            _as_failure(error)


def _as_failure(error: BaseException) -> NoReturn:
    """Raise what ended a task as Hydra is to see it."""
    if isinstance(error, Exception):
        raise error
    if isinstance(error, SystemExit):
        if CHECKPOINTED.is_set():
            raise error  # the task's own exit, to be requeued
        raise TaskExited(f"the task called sys.exit({error.code!r})") from None
    if isinstance(error, KeyboardInterrupt):
        if CTRL_C.is_set():
            raise error  # the user's Ctrl-C of the sweep: the sweep stops
        raise TaskExited("the task raised KeyboardInterrupt (not a Ctrl-C of the sweep)") from None
    raise TaskExited(f"the task raised {type(error).__name__}: {error}") from None
