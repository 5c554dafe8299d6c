"""A job's SIGTERM: the job of a cancelled sweep stops at once, and no job's end is cut.

``cancel`` moves the sweep's fence (:mod:`.fence`) before it signals anything, then SLURM
(``scancel``) or ``cancel`` itself sends the jobs SIGTERM. submitit ignores SIGTERM (it waits
for its own checkpoint signal), so a cancelled task would run on until SLURM's SIGKILL, which
can land anywhere: after the job's function has returned and before its end line is written,
and the job would then run again at the resume. While a job runs in a process of its own,
this module holds its SIGTERM:

- while the job's function runs (:func:`running`), a SIGTERM of a cancelled sweep (its fence
  moved) raises :class:`Cancelled` there, a ``KeyboardInterrupt``: the job writes no end and
  a resume runs it again; any other SIGTERM goes to the handler that was there before;
- from its function's return until its end line is written (:func:`release`), a SIGTERM
  waits, and is delivered once the line is in the journal.

In the sweeper's own process (Hydra's basic launcher) nothing is held: the sweeper's Ctrl-C
handling stays.

    >>> import signal, tempfile
    >>> from hydra_python_sweeper.journal.fence import Fence
    >>> fence = Fence(tempfile.mkdtemp(), shard=0, run=1)
    >>> guard(fence)
    >>> try:
    ...     with running():  # the job's function
    ...         Fence(fence.sweep_dir, shard=0, run=2).move()  # a cancel
    ...         signal.raise_signal(signal.SIGTERM)
    ... except Cancelled as error:
    ...     print(error)
    the sweep was cancelled
    >>> release(), signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    (None, True)
"""

import os
import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator, Optional

from hydra_python_sweeper.journal.fence import Fence


class Cancelled(KeyboardInterrupt):
    """The job's sweep was cancelled while its function ran: it ends without an end line
    (a ``KeyboardInterrupt``, so that a job's own Ctrl-C handling runs)."""


#: The pid of the sweeper's process, where nothing is held (set by the sweeper).
SWEEPER_PID: Optional[int] = None


class _Held:
    """The SIGTERM handler of one job (this process runs one job at a time)."""

    def __init__(self, fence: Fence, previous: Any) -> None:
        self.fence = fence
        self.previous = previous
        self.in_function = False
        self.pending = False

    def __call__(self, signum: int, frame: Any) -> None:
        if self.in_function and not self.fence.current():
            self.in_function = False
            raise Cancelled("the sweep was cancelled")
        if self.in_function:
            _deliver(self.previous, signum, frame)
        else:
            self.pending = True  # its end is being written: after it


_HELD: Optional[_Held] = None


def guard(fence: Optional[Fence]) -> None:
    """Hold this process's SIGTERM for the job that starts (its started line written)."""
    global _HELD
    if fence is None or os.getpid() == SWEEPER_PID:
        return
    if threading.current_thread() is not threading.main_thread():
        return  # a signal handler is set in the main thread only
    release()
    previous = signal.getsignal(signal.SIGTERM)
    if previous is None:  # set outside Python: it could not be put back
        return
    _HELD = _Held(fence, previous)
    signal.signal(signal.SIGTERM, _HELD)


@contextmanager
def running() -> Iterator[None]:
    """The job's function runs in this block: a cancel's SIGTERM raises :class:`Cancelled`."""
    held = _HELD
    if held is not None:
        held.in_function = True
    try:
        yield
    finally:
        if held is not None:
            held.in_function = False


def release() -> None:
    """The job's end is written (or will never be): SIGTERM goes back to its handler, and
    one that came meanwhile is delivered now."""
    global _HELD
    held, _HELD = _HELD, None
    if held is None:
        return
    signal.signal(signal.SIGTERM, held.previous)
    if held.pending:
        signal.raise_signal(signal.SIGTERM)


def _deliver(previous: Any, signum: int, frame: Any) -> None:
    """Hand a signal to the handler that was there before."""
    if callable(previous):
        previous(signum, frame)
    elif previous != signal.SIG_IGN:  # the default: the process ends by the signal
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)
