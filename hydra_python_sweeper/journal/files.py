"""The sweep dir's files opened safely: regular files only, symlinks never followed.

A journal or a lock that is a FIFO would block ``open()`` for ever (with the dir's locks
held, every later run of the dir behind it); a device or a socket is no journal either.
Every open of the journal and of the locks goes through :func:`open_regular`, which opens
without blocking and refuses what is not a regular file, with one clear message::

    >>> import os, tempfile
    >>> fifo = os.path.join(tempfile.mkdtemp(), "journal.jsonl")
    >>> os.mkfifo(fifo)
    >>> open_regular(Path(fifo), os.O_RDONLY)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hydra_python_sweeper.errors.JournalError: .../journal.jsonl is a FIFO, not a regular file: ...
"""

import os
import stat
from pathlib import Path
from typing import BinaryIO

from hydra_python_sweeper.errors import JournalError

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a directory",
    stat.S_IFLNK: "a symlink",
}


def open_regular(path: Path, flags: int, mode: int = 0o644) -> int:
    """``os.open(path, flags)`` of a regular file, never blocking on a FIFO nor following a
    symlink: :class:`JournalError` naming what ``path`` is, otherwise."""
    try:
        fd = os.open(path, flags | NOFOLLOW | getattr(os, "O_NONBLOCK", 0), mode)
    except OSError:
        try:
            kind = stat.S_IFMT(os.lstat(path).st_mode)
        except OSError:
            raise  # the first error says it
        if kind != stat.S_IFREG:  # a symlink (ELOOP), a socket (ENXIO)...
            what = _KINDS.get(kind, "not a file")
            raise JournalError(f"{path} is {what}, not a regular file: " + _FIX) from None
        raise
    kind = stat.S_IFMT(os.fstat(fd).st_mode)
    if kind != stat.S_IFREG:
        os.close(fd)
        what = _KINDS.get(kind, "not a file")
        raise JournalError(f"{path} is {what}, not a regular file: " + _FIX)
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return fd


_FIX = "the sweeper reads and writes only regular files there; move it away, then run again"


def open_journal(path: Path) -> BinaryIO:
    """The journal (or any of the sweep's files) at ``path`` opened for reading, in binary."""
    return open(open_regular(path, os.O_RDONLY), "rb")


def check_regular(path: Path) -> None:
    """:class:`JournalError` if ``path`` exists and is neither a regular file nor a symlink
    (those the opens refuse, not following them; nothing is opened here)."""
    try:
        kind = stat.S_IFMT(os.lstat(path).st_mode)
    except FileNotFoundError:
        return
    if kind not in (stat.S_IFREG, stat.S_IFLNK):
        what = _KINDS.get(kind, "not a file")
        raise JournalError(f"{path} is {what}, not a regular file: " + _FIX)
