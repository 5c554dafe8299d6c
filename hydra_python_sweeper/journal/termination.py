"""A job's SIGTERM and SIGINT: the job of a cancelled or interrupted sweep stops in its
function, and no job's end is cut.

``cancel`` moves the sweep's fence (:mod:`.fence`) before it signals anything, then SLURM
(``scancel``) or ``cancel`` itself sends the jobs SIGTERM. submitit ignores SIGTERM (it waits
for its own checkpoint signal), so a cancelled task would run on until SLURM's SIGKILL, which
can land anywhere: after the job's function has returned and before its end line is written,
and the job would then run again at the resume. A terminal's Ctrl-C sends SIGINT to every
process of the sweep (a joblib pool's workers too), where the job's function would take it
for its own ``KeyboardInterrupt``, a failure. While a job runs in a process of its own, this
module holds both signals:

- while the job's function runs (:func:`running`), a SIGINT (a Ctrl-C), or a SIGTERM of a
  cancelled sweep (its fence moved), raises :class:`Interrupted` there, a
  ``KeyboardInterrupt``: the job's own Ctrl-C handling runs, it writes no end, its process
  ends (:func:`leave`: a pool's worker too), and a resume runs it again; any other SIGTERM
  goes to the handler that was there before;
- from its function's return until its end line is written (:func:`release`), either signal
  waits, and is delivered once the line is in the journal;
- between two jobs, a Ctrl-C ends the process quietly (it runs jobs: its sweep is
  stopping).

In the sweeper's own process (Hydra's basic launcher) nothing is held: the sweeper's Ctrl-C
handling stays.

    >>> import tempfile
    >>> from hydra_python_sweeper.journal import termination
    >>> from hydra_python_sweeper.journal.fence import Fence
    >>> termination.SWEEPER_PID = None  # this process runs a job, no sweeper
    >>> fence = Fence(tempfile.mkdtemp(), shard=0, run=1)
    >>> guard(fence)
    >>> try:
    ...     with running():  # the job's function
    ...         Fence(fence.sweep_dir, shard=0, run=2).move()  # a cancel
    ...         signal.raise_signal(signal.SIGTERM)
    ... except Interrupted as error:
    ...     print(error)
    the sweep was cancelled
    >>> release(), signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    (None, True)
    >>> _ = signal.signal(signal.SIGINT, signal.default_int_handler)  # this process's own
"""

import logging
import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, NoReturn, Optional

from hydra_python_sweeper.journal.fence import Fence


class Interrupted(KeyboardInterrupt):
    """The job's sweep was cancelled, or interrupted by a Ctrl-C, while its function ran: it
    ends without an end line (a ``KeyboardInterrupt``, so that a job's own Ctrl-C handling
    runs)."""


#: The pid of the sweeper's process, where nothing is held (set by the sweeper).
SWEEPER_PID: Optional[int] = None

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _Held:
    """The handler of one job's SIGTERM and SIGINT (a process runs one job at a time)."""

    def __init__(self, fence: Fence, previous: Dict[int, Any]) -> None:
        self.fence = fence
        self.previous = previous
        self.in_function = False
        self.raised = 0  # the signal that interrupted the job's function
        self.pending: List[int] = []

    def __call__(self, signum: int, frame: Any) -> None:
        if not self.in_function:
            self.pending.append(signum)  # its end is being written: after it
        elif signum == signal.SIGINT:
            self.in_function, self.raised = False, signum
            raise Interrupted("the sweep was interrupted (Ctrl-C)")
        elif not self.fence.current():
            self.in_function, self.raised = False, signum
            raise Interrupted("the sweep was cancelled")
        else:
            _deliver(self.previous[signum], signum, frame)


_HELD: Optional[_Held] = None


def guard(fence: Optional[Fence]) -> None:
    """Hold this process's SIGTERM and SIGINT for the job that starts (its started line
    written)."""
    global _HELD
    if fence is None or os.getpid() == SWEEPER_PID:
        return
    if threading.current_thread() is not threading.main_thread():
        return  # a signal handler is set in the main thread only
    release()
    # one set outside Python could not be put back; an ignored SIGINT stays ignored (a job
    # started in the background: no Ctrl-C is meant for it)
    previous: Dict[int, Any] = {}
    for signum in _SIGNALS:
        handler = signal.getsignal(signum)
        if handler is not None and not (signum == signal.SIGINT and handler == signal.SIG_IGN):
            previous[signum] = handler
    # known before it is installed: a signal landing in between cannot leave it in place
    # with nothing to put the previous handlers back
    _HELD = _Held(fence, previous)
    for number in previous:
        signal.signal(number, _HELD)


@contextmanager
def running() -> Iterator[None]:
    """The job's function runs in this block: a Ctrl-C, or a cancel's SIGTERM, raises
    :class:`Interrupted` in it."""
    held = _HELD
    if held is not None:
        held.in_function = True
    try:
        yield
    finally:
        if held is not None:
            held.in_function = False


def interrupted() -> int:
    """The signal that interrupted the job this process runs (:class:`Interrupted`, which
    its function may have caught and raised again as another ``KeyboardInterrupt``), or 0."""
    return _HELD.raised if _HELD is not None else 0


def leave(signum: int) -> NoReturn:
    """The job was interrupted: its process ends, by the signal's exit code, its output
    flushed. A pool's worker too: it would live on, and the job it ran, with no end, would
    look running as long as its pid lives (a resume would wait for it); its sweep is
    stopping."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(128 + signum)


def release() -> None:
    """The job's end is written (or will never be): each signal goes back to its handler,
    and one that came meanwhile is delivered now."""
    global _HELD
    held, _HELD = _HELD, None
    if held is None:
        return
    for signum, previous in held.previous.items():
        if signum == signal.SIGINT and previous is signal.default_int_handler:
            previous = _between_jobs  # Python's would raise wherever the process is
        signal.signal(signum, previous)
    for signum in dict.fromkeys(held.pending):
        if signum in held.previous:
            signal.raise_signal(signum)


def _between_jobs(signum: int, frame: Any) -> None:
    """A Ctrl-C between two jobs of a process that runs jobs (a pool's worker, a packed
    task): it ends, quietly (Python's own handler would raise ``KeyboardInterrupt`` in
    whatever the process was doing, a weakref callback included, and print it)."""
    leave(signum)


def _deliver(previous: Any, signum: int, frame: Any) -> None:
    """Hand a signal to the handler that was there before."""
    if callable(previous):
        previous(signum, frame)
    elif previous != signal.SIG_IGN:  # the default: the process ends by the signal
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)
