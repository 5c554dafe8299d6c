"""The sweeper's errors.

Every error is a :class:`hydra.errors.CompactHydraException`, so Hydra prints its
message alone, without a traceback (``HYDRA_FULL_ERROR=1`` shows the traceback).
Each message says what is wrong and where: the setting, the entrypoint, the job
number within the entrypoint, the key.
"""

import contextlib
from pathlib import Path
from typing import Iterator, Optional

from hydra.errors import CompactHydraException


class PythonSweeperError(CompactHydraException):
    """Base class of every error this sweeper raises."""


class SettingError(PythonSweeperError):
    """A ``hydra.sweeper.*`` setting or a command-line sweep is invalid."""


class EntrypointError(PythonSweeperError):
    """An entrypoint does not resolve, is not callable, or returns no iterable."""


class JobError(PythonSweeperError):
    """A job is malformed, or one of its values cannot be written as an override."""

    def __init__(self, reason: str, key: Optional[str] = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.key = key

    def at(self, source: str, index: int) -> "JobError":
        """The same error, located at job ``index`` of ``source``."""
        where = f"{source}, job #{index}"
        if self.key is not None:
            where += f", key '{self.key}'"
        located = JobError(f"{where}: {self.reason}", self.key)
        located.__cause__ = self.__cause__
        return located


class EntrypointFailed(PythonSweeperError):
    """An entrypoint raised while its jobs were being generated."""


class FilterFailed(PythonSweeperError):
    """A filter raised on a job."""


def describe_exception(exc: BaseException) -> str:
    """``Type: message (file:line in function)``, the line being where it was raised.

    >>> try:
    ...     1 / 0
    ... except ZeroDivisionError as e:
    ...     describe_exception(e).split(" (")[0]
    'ZeroDivisionError: division by zero'
    """
    text = f"{type(exc).__name__}: {exc}"
    tb = exc.__traceback__
    if tb is None:
        return text
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    return f"{text} ({code.co_filename}:{tb.tb_lineno} in {code.co_name})"


class SweepDirError(PythonSweeperError):
    """The sweep dir cannot be written (read-only, full, over a quota)."""


class JobsFailed(PythonSweeperError):
    """With ``fail_fast=false``: some jobs failed; the sweep ran every batch."""


class ResumeError(PythonSweeperError):
    """The journal cannot be resumed: missing, or the sweep it records is another."""


class JournalError(PythonSweeperError):
    """The journal cannot be written, or a line of it cannot be read."""


class SweepBusy(PythonSweeperError):
    """Another process runs this sweep dir's shard."""


@contextlib.contextmanager
def sweep_dir_errors(sweep_dir: Path, so: str = "Nothing was launched.") -> Iterator[None]:
    """An :class:`OSError` on the sweep dir (read-only, full, a quota) as one clear error,
    ending with what it means for the sweep (``so``)."""
    try:
        yield
    except OSError as error:
        raise SweepDirError(
            f"cannot write the sweep dir {sweep_dir}: {error.strerror or error} "
            f"({type(error).__name__}). {so}"
        ) from error
