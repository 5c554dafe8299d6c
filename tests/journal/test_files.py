"""Hostile files in the sweep dir: a journal or a lock that is not a regular file never hangs
a run (nor every later run behind its locks), and a line written whole is never taken back,
whatever signal lands while it is written."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hydra_python_sweeper.errors import JournalError
from hydra_python_sweeper.journal.admission import admit
from hydra_python_sweeper.journal.files import open_regular
from hydra_python_sweeper.journal.lines import FILENAME

APPS = Path(__file__).resolve().parents[1] / "apps"


def run_app(sweep_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, str(APPS / "exits.py"), "-m", f"hydra.sweep.dir={sweep_dir}"]
    return subprocess.run(
        [*argv, "how=none", "hydra/launcher=basic", *extra],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("name", [FILENAME, ".admission.lock", ".shard-0.lock"])
def test_a_fifo_in_the_sweep_dir_is_refused_before_any_lock(tmp_path: Path, name: str) -> None:
    """A new sweep and a resume into a dir whose journal or lock is a FIFO end at once with
    one message (on 0.5.0 both hung in ``open()``, holding the dir's locks); once it is moved
    away, the dir runs again."""
    sweep_dir = tmp_path / "sweep"
    assert run_app(sweep_dir).returncode == 0
    (sweep_dir / name).rename(tmp_path / "aside")
    os.mkfifo(sweep_dir / name)
    for extra in ([], ["hydra.sweeper.resume=true"]):
        done = run_app(sweep_dir, *extra)
        assert done.returncode == 1, done.stderr
        assert f"{sweep_dir / name} is a FIFO, not a regular file" in done.stderr
        assert "Traceback" not in done.stderr
    (sweep_dir / name).unlink()
    (tmp_path / "aside").rename(sweep_dir / name)
    done = run_app(sweep_dir, "hydra.sweeper.resume=true")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("kind", ["fifo", "socket", "dir"])
def test_only_regular_files_are_opened(tmp_path: Path, kind: str) -> None:
    path = tmp_path / FILENAME
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dir":
        path.mkdir()
    else:
        import socket

        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
    with pytest.raises(JournalError, match="not a regular file"):
        open_regular(path, os.O_RDONLY)
    with pytest.raises(JournalError, match="not a regular file"):
        with admit(tmp_path, {"entrypoints": ["m.f"]}, {"num_shards": 1}, True):
            pass


WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from hydra_python_sweeper.journal import writer

    path, seen_path, period = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    real_fsync = os.fsync
    # unbuffered: a buffered file's own lock, held when the signal lands, hangs Python 3.9
    seen = os.open(seen_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)

    def fsync(fd):
        # another reader's view, once the write has landed and before it is synced
        size = os.fstat(fd).st_size
        os.write(seen, b"%d\\n" % size)
        real_fsync(fd)

    writer.os.fsync = fsync

    def interrupt(signum, frame):
        global armed
        if armed:
            armed = False
            raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, period, period)
    written = interrupted = 0
    armed = False
    for n in range(3000):
        try:
            # the handler raises only here, once, and disarms; every other append is left
            # alone (on a loaded machine each armed one may be interrupted)
            armed = n % 2 == 0
            writer.append(path, {"job": n, "pad": "x" * 300})
            armed = False
            written += 1
        except KeyboardInterrupt:
            interrupted += 1
        except SystemError as error:
            # CPython 3.9 and 3.10, under this storm, at times hand the handler's
            # KeyboardInterrupt on wrapped in a SystemError ("_PyEval_EvalFrameDefault
            # returned a result with an exception set"): the same interrupted append
            if not isinstance(error.__cause__, KeyboardInterrupt):
                raise
            interrupted += 1
    signal.setitimer(signal.ITIMER_REAL, 0)
    print(written, interrupted)
    """
)


@pytest.mark.parametrize("period", [0.0001, 0.0005])
def test_a_line_seen_whole_stays_whatever_signal_lands(tmp_path: Path, period: float) -> None:
    """Real signals (SIGALRM every ``period`` seconds, raising ``KeyboardInterrupt``) land at
    every step of ``append``, thousands of times. Each time the write had landed, the file's
    size was noted as another reader would see it; every line seen whole then is in the
    journal at the end, and the journal's lines are all whole."""
    path, seen = tmp_path / FILENAME, tmp_path / "seen"
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(path), str(seen), str(period)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    written, interrupted = map(int, done.stdout.split())
    assert interrupted > 0, "no signal landed in an append: nothing was tested"
    assert written >= 1500  # the appends left alone, at least
    final = path.read_bytes()
    assert final.endswith(b"\n")
    lines = final.splitlines()
    assert len(lines) >= written
    from hydra_python_sweeper.journal.lines import whole

    assert all(whole(line) for line in lines)
    sizes = [int(size) for size in seen.read_text().split()]
    assert max(sizes) <= len(final), "a line another reader saw whole was taken back"


def test_a_signal_in_fsync_keeps_the_whole_line(tmp_path: Path) -> None:
    """The case 0.5.0 got wrong, made certain: the signal lands in ``fsync``, after the
    whole line was written; the line stays."""
    script = textwrap.dedent(
        """
        import os, signal, sys
        from pathlib import Path
        from hydra_python_sweeper.journal import writer

        # Python's own, as a terminal's foreground process has it (a test run in the
        # background inherits SIGINT ignored)
        signal.signal(signal.SIGINT, signal.default_int_handler)

        def fsync(fd):
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, delivered in fsync
            signal.pthread_sigmask(signal.SIG_SETMASK, [])
            os.sched_yield()

        writer.os.fsync = fsync
        try:
            writer.append(Path(sys.argv[1]), {"job": 6, "status": "x"})
        except KeyboardInterrupt:
            print("interrupted")
        """
    )
    path = tmp_path / FILENAME
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "interrupted", done.stderr
    assert path.read_bytes().count(b'{"job": 6') == 1
    assert signal.SIGINT  # the signal was a real one: its handler raised above
