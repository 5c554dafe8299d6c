"""Which processes of this host are provably the sweep's, and signals sent only to them.

Nothing a file says is taken for proof: a pid in a journal line or in a lock's text may be
anyone's by now (pids are reused), and a command line that merely contains the sweep's path
may be a user's ``tail -f``. A process is the sweep's when

- it is a job's process: its pid *and its start time* are the ones the job's started line
  recorded (:class:`Process`; :mod:`..journal.origin`);
- it holds one of the sweep dir's locks, as the kernel says (``/proc/locks``, by the lock
  file's device and inode: :func:`lock_holders`);
- it is one of submitit's local executor processes for the sweep's own ``.submitit`` folder:
  its command is submitit's (``-m submitit.local._local`` or ``-m submitit.core._submit``),
  its folder argument is that folder or under it, path component by path component, and
  its environment says ``SUBMITIT_EXECUTOR=local`` (a SLURM task runs the same command:
  those are cancelled through SLURM, never by pid) (:func:`local_executor`);
- its environment carries the sweep's mark (:data:`MARK`, the sweep dir's absolute path),
  which the sweeper sets in its own environment before it launches anything, so that every
  process it starts, and theirs (a joblib pool's workers, a job's own subprocesses), inherits
  it (:func:`marked`): read from the process itself, not from a file, and a reused pid has
  another environment.

:func:`send` signals a process only after it pinned it (a ``pidfd``, where the system has
them): the proof is checked on the pinned process, so the pid cannot be reused between the
check and the signal::

    >>> import os, signal
    >>> me = Process(os.getpid(), process_start(os.getpid()))
    >>> me.alive(), Process(os.getpid(), 1).alive()  # a start that is not ours: not us
    (True, False)
    >>> send(os.getpid(), 0, lambda: False)  # unproven: nothing sent
    False
"""

import os
import signal
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional

from hydra_python_sweeper.journal.origin import process_start

_SUBMITIT_MODULES = ("submitit.local._local", "submitit.core._submit")


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host (a zombie, killed and not yet reaped,
    does not). Whether it is the process some file meant is :meth:`Process.alive`'s to say.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass  # it exists, and is another user's
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc to tell: alive
    return state not in (b"Z", b"X")


class Process(NamedTuple):
    """A process of this host that a job's started line names: its pid and its start time
    (``since``; ``None`` in lines written before 0.6, which cannot be proved)."""

    pid: int
    since: Optional[int] = None

    def __str__(self) -> str:
        return str(self.pid)

    @property
    def proven(self) -> bool:
        """Whether a process found under this pid can be proved to be this one."""
        return self.since is not None

    def alive(self) -> bool:
        """Whether it still runs: its pid alive and, where its line recorded it, started when
        the line says (a reused pid is another process, and this one is gone)."""
        if not pid_alive(self.pid):
            return False
        return self.since is None or process_start(self.pid) == self.since

    def is_it(self) -> bool:
        """Whether the process under this pid is provably this one (alive, same start)."""
        return self.proven and self.alive()


def send(pid: int, sig: int, proof: Callable[[], bool]) -> bool:
    """Send ``sig`` to process ``pid`` if ``proof()`` holds, asked once the process is pinned
    (a ``pidfd``: the pid cannot be reused until it is closed); whether it was sent."""
    try:
        fd = os.pidfd_open(pid)  # type: ignore[attr-defined,unused-ignore]
    except ProcessLookupError:
        return False
    except (AttributeError, OSError):  # no pidfd here (not Linux 5.3+): check, then send
        if not proof():
            return False
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return False
        return True
    try:
        if not proof():
            return False
        signal.pidfd_send_signal(fd, sig)  # type: ignore[attr-defined,unused-ignore]
        return True
    except ProcessLookupError:  # it ended meanwhile
        return False
    finally:
        os.close(fd)


def lock_holders(path: Path) -> List[int]:
    """The pids that hold a ``flock`` or POSIX lock on the file at ``path``, as this host's
    kernel lists them (``/proc/locks``); empty if none here does (or there is no
    ``/proc/locks``: a lock held from another host of a network file system is not listed).
    """
    try:
        info = os.stat(path)
        with open("/proc/locks") as f:
            table = f.read()
    except OSError:
        return []
    device = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    holders = []
    for line in table.splitlines():
        fields = line.split()
        if "->" in fields or len(fields) < 6:
            continue  # a process waiting for the lock, not holding it
        if fields[5] == device and fields[4].isdigit() and int(fields[4]) > 0:
            holders.append(int(fields[4]))
    return holders


#: The environment variable that marks a sweep's processes: the sweep dir's absolute path.
MARK = "HYDRA_PYTHON_SWEEPER_DIR"


def marking(sweep_dir: Path) -> Callable[[], None]:
    """Mark every process this one starts from now on as the sweep's (they inherit the
    mark; this process's own ``/proc`` environment keeps what it started with: the sweeper
    is found by its lock); the function returned stops marking (those started keep it).

    >>> unmark = marking(Path("/runs/a"))
    >>> os.environ[MARK]
    '/runs/a'
    >>> unmark(); MARK in os.environ
    False
    """
    before = os.environ.get(MARK)
    os.environ[MARK] = os.path.abspath(sweep_dir)

    def unmark() -> None:
        if before is None:
            os.environ.pop(MARK, None)
        else:
            os.environ[MARK] = before

    return unmark


def marked(sweep_dir: Path) -> Dict[int, str]:
    """The processes of this host that carry the sweep's mark, this one and its ancestors
    aside (a ``cancel`` run from inside a job)."""
    mine = set()
    pid = os.getpid()
    while pid > 1:  # this process and its ancestors
        mine.add(pid)
        pid = _parent(pid)
    found = {}
    for proc in Path("/proc").glob("[0-9]*"):
        pid = int(proc.name)
        if pid not in mine and marked_by(pid, sweep_dir):
            found[pid] = "a process of the sweep (its mark)"
    return found


def marked_by(pid: int, sweep_dir: Path) -> bool:
    """Whether process ``pid``'s environment carries the mark of ``sweep_dir`` (read now)."""
    entry = f"{MARK}={os.path.abspath(sweep_dir)}".encode()
    try:
        return entry in (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:  # gone, or not ours to read: not proved
        return False


def _parent(pid: int) -> int:
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


def local_executor(sweep_dir: Path) -> Dict[int, str]:
    """The processes of this host that are submitit's local executor for this sweep (its
    controllers and tasks), each with what it is; see the module's docstring for the proof.
    """
    found = {}
    for proc in Path("/proc").glob("[0-9]*"):
        pid = int(proc.name)
        if pid != os.getpid() and executor_of(pid, sweep_dir):
            found[pid] = "a process of the local executor"
    return found


def executor_of(pid: int, sweep_dir: Path) -> bool:
    """Whether process ``pid`` is submitit's local executor for ``sweep_dir`` (read now)."""
    folder = os.path.abspath(sweep_dir / ".submitit")
    try:
        argv = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
        environ = (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:  # gone, or not ours to read: not proved
        return False
    args = [a.decode("utf-8", "surrogateescape") for a in argv if a]
    module = next((args[i + 1] for i, a in enumerate(args[:-1]) if a == "-m"), None)
    if module not in _SUBMITIT_MODULES or b"SUBMITIT_EXECUTOR=local" not in environ:
        return False
    target = args[-1]
    if not os.path.isabs(target):
        try:
            target = os.path.join(os.readlink(f"/proc/{pid}/cwd"), target)
        except OSError:
            return False
    target = os.path.normpath(target)
    return target == folder or target.startswith(folder + os.sep)
