"""Shared fixtures: a sweeper wired to a launcher that records instead of running."""

import os
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import pytest
from hydra._internal.callbacks import Callbacks
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.types import HydraContext
from hypothesis import settings
from omegaconf import OmegaConf

from hydra_python_sweeper.run.sweeper import PythonSweeperImpl

# Hypothesis's per-example deadline is a wall-clock check: under a loaded machine (the test
# command's workers side by side) it fails tests that are right. No test here times code.
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")

# Discover Hydra's plugins now, once: it registers the core plugins' configs
# (hydra/sweeper=basic, ...), which Hydra 1.4 does only on discovery, before the
# hydra_restore_singletons fixture first snapshots the ConfigStore.
Plugins.instance()


class RecordingLauncher:
    """Records each batch and returns completed jobs; ``on_launch`` may inspect the batch,
    and return the number of a job to fail. Like Hydra's launchers, it runs the sweep's
    ``on_job_end`` callbacks for each job."""

    def __init__(
        self,
        on_launch: Optional[Callable[[int, Sequence[Sequence[str]]], Any]] = None,
        value_of: Optional[Callable[[int, Sequence[str]], Any]] = None,
    ):
        self.batches: List[Tuple[int, List[List[str]]]] = []
        self.on_launch = on_launch
        self.value_of = value_of or (lambda number, job: number)  # what a job returns
        self.callbacks = Callbacks()
        self.sweep_dir = Path(".")

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> List[JobReturn]:
        self.batches.append((initial_job_idx, [list(job) for job in job_overrides]))
        failing = self.on_launch(initial_job_idx, job_overrides) if self.on_launch else None
        returns = []
        for offset, job in enumerate(job_overrides):
            number = initial_job_idx + offset
            failed = failing is not None and number == failing
            job_return = JobReturn(
                overrides=list(job),
                status=JobStatus.FAILED if failed else JobStatus.COMPLETED,
                _return_value=(
                    RuntimeError(f"job {number} failed") if failed else self.value_of(number, job)
                ),
            )
            returns.append(job_return)
            config = OmegaConf.create(
                {
                    "hydra": {
                        "job": {"num": number},
                        "runtime": {"output_dir": str(self.sweep_dir / str(number))},
                    }
                }
            )
            self.callbacks.on_job_end(config=config, job_return=job_return)
        return returns

    @property
    def jobs(self) -> List[List[str]]:
        return [job for _, batch in self.batches for job in batch]


@pytest.fixture
def make_sweeper(tmp_path: Path) -> Callable[..., PythonSweeperImpl]:
    """A sweeper with the given settings, its sweep dir in ``tmp_path``, launching into a
    :class:`RecordingLauncher` (``sweeper.launcher``); configs are not validated."""

    def make(
        launcher: Optional[RecordingLauncher] = None, sweep_dir: str = "sweep", **settings: Any
    ) -> PythonSweeperImpl:
        settings.setdefault("validate", False)
        sweeper = PythonSweeperImpl(**settings)
        sweeper.config = OmegaConf.create(
            {"hydra": {"sweep": {"dir": str(tmp_path / sweep_dir)}, "overrides": {"hydra": []}}}
        )
        launcher = launcher or RecordingLauncher()
        launcher.sweep_dir = tmp_path / sweep_dir
        sweeper.launcher = launcher  # type: ignore[assignment]
        sweeper.hydra_context = HydraContext(config_loader=None, callbacks=launcher.callbacks)  # type: ignore[arg-type]
        return sweeper

    return make


def sweep_test_app(runner: Any, tmpdir: Path, overrides: List[str]) -> Any:
    """A sweep of Hydra's own test application (``hydra.test_utils``'s compose.yaml:
    ``foo: 10, bar: 100``) with this sweeper and these overrides."""
    return runner(
        calling_file=None,
        calling_module="hydra.test_utils.a_module",
        task_function=None,
        config_path="configs",
        config_name="compose.yaml",
        overrides=["hydra/sweeper=python", *overrides],
        temp_dir=tmpdir,
    )


def resume(command: List[str], cwd: Path, timeout: int = 300) -> "subprocess.CompletedProcess[str]":
    """Run a sweep's command again with ``hydra.sweeper.resume=true``, its output captured."""
    return subprocess.run(
        [*command, "hydra.sweeper.resume=true"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


_NO_SLURM: List[str] = []  # why no cluster answered, once: the other tests skip at once

#: The name of the cluster tests/slurm/start-slurm.sh starts: the only one the SLURM tests
#: run on, unless HYDRA_PYTHON_SWEEPER_SLURM_TESTS=1 says another may take their jobs.
TESTS_CLUSTER = "local"


def _cluster_name() -> str:
    """The ClusterName of the SLURM cluster this host talks to ("": no answer in 5 s)."""
    try:
        done = subprocess.run(
            ["scontrol", "show", "config"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    for line in done.stdout.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "ClusterName":
            return value.strip()
    return ""


def slurm_is_up() -> Optional[str]:
    """Why no SLURM cluster can run the tests here (``None``: one can). A cluster that did
    not answer once is not asked again in this session."""
    import shutil

    if _NO_SLURM:
        return _NO_SLURM[0]
    if shutil.which("sinfo") is None:
        return "no SLURM here (sinfo not found): tests/slurm/start-slurm.sh starts the tests' one"
    name = _cluster_name()
    if name != TESTS_CLUSTER and not os.environ.get("HYDRA_PYTHON_SWEEPER_SLURM_TESTS"):
        _NO_SLURM.append(
            f"the SLURM cluster here is not the tests' own ({name or 'no answer'}, not "
            f"{TESTS_CLUSTER!r}, which tests/slurm/start-slurm.sh starts): its jobs are left "
            "alone; HYDRA_PYTHON_SWEEPER_SLURM_TESTS=1 runs the SLURM tests on it"
        )
        return _NO_SLURM[0]
    deadline = time.monotonic() + 90
    while True:
        try:
            done = subprocess.run(
                ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=5
            )
        except subprocess.TimeoutExpired:
            _NO_SLURM.append("no SLURM cluster answers (sinfo timed out after 5 s)")
            return _NO_SLURM[0]
        states = set(done.stdout.split())
        if done.returncode == 0 and states & {"idle", "mixed", "allocated"}:
            return None
        # nodes still cleaning up after the last test's jobs (a requeue, a cancel): wait
        if done.returncode != 0 or not states <= {"completing"} or time.monotonic() > deadline:
            found = done.stderr.strip() or sorted(states)
            _NO_SLURM.append(
                f"no SLURM cluster answers (sinfo: {found}): tests/slurm/start-slurm.sh starts "
                "one; -m 'not slurm' leaves these tests out"
            )
            return _NO_SLURM[0]
        time.sleep(1)


#: Held shared by each SLURM test, exclusively by one that changes the cluster for everyone
#: (``@pytest.mark.cluster_wide``: a node down, a submission limit), so that the test files
#: on the cluster, run side by side by the test command's workers, never overlap such a test.
CLUSTER_LOCK = Path("/tmp/hydra-python-sweeper-tests-slurm.lock")


@pytest.fixture
def slurm(request: pytest.FixtureRequest) -> Any:
    """Skips the test, with the reason, where no SLURM cluster runs (a laptop); holds the
    cluster's lock (shared, or exclusive for a ``cluster_wide`` test) while it runs."""
    import fcntl

    reason = slurm_is_up()
    if reason is not None:
        if os.environ.get("HYDRA_PYTHON_SWEEPER_REQUIRE_SLURM"):  # CI: never skipped
            pytest.fail(reason)
        pytest.skip(reason)
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    exclusive = request.node.get_closest_marker("cluster_wide") is not None
    with open(CLUSTER_LOCK, "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield


def journal_records(path: Path) -> List[Dict[str, Any]]:
    """The records of the journal at ``path`` as the sweeper reads them: each line checked
    (a line not as written fails the test), its check dropped; a torn last line skipped."""
    from hydra_python_sweeper.journal.parse import parse

    records = (parse(path, n, raw) for n, raw in enumerate(path.read_bytes().splitlines(), 1))
    return [record for record in records if record is not None]


def _version_base_put_back() -> Iterator[None]:
    """Hydra's version base is a process-wide setting that ``initialize(version_base=None)``
    sets and nothing puts back: a test that composes with it made Hydra's own plugin suites,
    run after it by the same worker, see ``hydra.job.chdir`` false (their jobs' logs looked
    for in the working directory). Put back after each test, and after each module (whose
    fixtures may set it for all of its tests)."""
    from hydra.version import VersionBase

    saved = VersionBase.instance().version_base
    yield
    VersionBase.instance().version_base = saved


_hydra_version_base_of_each_test = pytest.fixture(autouse=True)(_version_base_put_back)
_hydra_version_base_of_each_module = pytest.fixture(autouse=True, scope="module")(
    _version_base_put_back
)


@pytest.fixture(autouse=True)
def _slurm_tests_first_for_the_cpu(request: pytest.FixtureRequest) -> Any:
    """Under pytest-xdist, the tests beside the SLURM ones run at a lower CPU priority (nice
    5), and their processes with them: on a 2-core machine, a sweeper starved of CPU between
    ``sbatch`` and making its array's folders loses its first tasks to SLURM, which cannot
    open their logs (submitit makes those folders after submitting)."""
    if "PYTEST_XDIST_WORKER" in os.environ and hasattr(os, "setpriority"):
        wanted = 0 if request.node.get_closest_marker("slurm") is not None else 5
        try:
            os.setpriority(os.PRIO_PROCESS, 0, wanted)
        except OSError:  # back to 0 needs root: a worker that cannot stays at 5
            pass
    yield


# --- no process of a test's sweep left behind ---------------------------------------------


def _left_behind(root: Path) -> Dict[int, str]:
    """Processes of this host carrying the mark of a sweep under ``root`` (the session's
    temporary dirs): what a test's sweep left running."""
    from hydra_python_sweeper.cluster.processes import MARK

    prefix = f"{MARK}={root}".encode()
    found = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(proc.name) != os.getpid() and any(e.startswith(prefix) for e in environ):
            found[int(proc.name)] = command[:200]
    return found


def stop_what_was_left(root: Path) -> Dict[int, str]:
    """Kill the processes of the sweeps under ``root`` that are still there (waiting a few
    seconds for those ending by themselves); what was killed."""
    deadline = time.monotonic() + 5
    left = _left_behind(root)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = _left_behind(root)
    for pid in left:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    return left


@pytest.fixture
def cancelled_after() -> Iterator[List[Path]]:
    """Sweep dirs a test leaves processes of on purpose (a sweeper SIGKILLed while its pool's
    workers live on, orphaned): ``cancel`` stops them once the test ends, as a user would."""
    from hydra_python_sweeper.commands.cancel import cancel_sweep

    dirs: List[Path] = []
    yield dirs
    for sweep_dir in dirs:
        if (sweep_dir / "journal.jsonl").is_file():
            cancel_sweep(sweep_dir, wait=5)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The suite leaves no process behind: once every test has run (under pytest-xdist, in
    the controller, after its workers), no process of a sweep under the session's temporary
    dirs may be left; any found is killed and named, and the session fails."""
    if hasattr(session.config, "workerinput") or not hasattr(os, "getpid"):
        return  # an xdist worker: the controller checks, once they are all done
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None or not Path("/proc").is_dir():
        return
    left = stop_what_was_left(factory.getbasetemp())
    if left:
        listed = "\n".join(f"  pid {pid}: {command}" for pid, command in sorted(left.items()))
        print(f"\nProcesses of the tests' sweeps left behind (now killed):\n{listed}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def compose_app(hydra_restore_singletons: Any) -> Iterator[Any]:
    """``make(config_name, overrides=())``: Hydra's config loader and the sweep's master
    config for one of the compared applications (tests/apps/compare)."""
    from compared import load_app
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    load_app().store_schemas()
    conf = Path(__file__).parent / "apps" / "compare" / "conf"
    with initialize_config_dir(config_dir=str(conf), version_base=None):
        loader = GlobalHydra.instance().config_loader()

        def make(config_name: str, overrides: Tuple[str, ...] = ()) -> Tuple[Any, Any]:
            master = loader.load_configuration(config_name, list(overrides), RunMode.MULTIRUN)
            return loader, master

        yield make
