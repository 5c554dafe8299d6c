"""A resume's adopted jobs: left out of the stream while they run, launched again only when
they exited without their end line."""

import subprocess
import sys
from pathlib import Path
from typing import List, Sequence, Tuple

from hydra_python_sweeper.cluster.processes import Process
from hydra_python_sweeper.journal.lines import job_line
from hydra_python_sweeper.journal.origin import process_start
from hydra_python_sweeper.journal.writer import append
from hydra_python_sweeper.run.adoption import Adoption, returned_by

Batch = Tuple[int, Sequence[Sequence[str]]]


def stream(n: int, size: int) -> List[Batch]:
    return [(s, [[f"a={i}"] for i in range(s, min(s + size, n))]) for s in range(0, n, size)]


def numbers(batches: List[Batch]) -> List[List[int]]:
    return [[int(job[0][2:]) for job in batch] for _, batch in batches]


def test_the_stream_leaves_out_running_jobs_and_keeps_those_that_exited_without_an_end() -> None:
    adoption = Adoption({2: 1, 3: 1, 4: 1, 9: 1}, batch_size=4)
    assert [item.numbers for item in adoption.items()] == [[2, 3], [4], [9]]  # by batch
    # 4 exited with its end line and 9 without one before the stream reached them
    assert adoption.ended([4], {4: {"status": "completed"}}) == []
    assert adoption.ended([9], {}) == []  # not drawn yet: the stream keeps it
    batches = list(adoption.set_aside(iter(stream(12, 4))))
    assert numbers(batches) == [[0, 1], [5, 6, 7], [8, 9, 10, 11]]
    assert [start for start, _ in batches] == [0, 5, 8]
    # 2 ends with its line, 3 without: 3 is launched again, under its own number
    assert adoption.ended([2, 3], {2: {"status": "failed", "return": "E()"}}) == [(3, ["a=3"])]
    assert not adoption.running and not adoption.held


def test_an_adopted_group_waits_for_its_processes_then_reads_their_ends(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    append(path, job_line(0, ["a=0"], True, 0, "0"))
    offset = path.stat().st_size
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    process = Process(sleeper.pid, process_start(sleeper.pid))
    item = Adoption({5: process, 6: process}, None, offset).items()[0]
    append(path, job_line(5, ["a=5"], True, 0.5, "5"))
    ends = item.wait(path, offset, poll=0.05)
    assert sleeper.poll() is not None  # it returned only once the process had exited
    sleeper.wait()
    assert sorted(ends) == [5]  # 6 wrote no end
    assert returned_by(ends[5]).return_value == 0.5


def test_a_group_whose_jobs_all_wrote_their_end_is_done_while_their_worker_lives(
    tmp_path: Path,
) -> None:
    """joblib's worker that ran an adopted job lives on after it: its end line decides."""
    path = tmp_path / "journal.jsonl"
    append(path, job_line(0, ["a=0"], True, 0, "0"))
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        process = Process(worker.pid, process_start(worker.pid))
        item = Adoption({3: process, 4: process}, None).items()[0]
        append(path, job_line(3, ["a=3"], True, 3, "3"), job_line(4, ["a=4"], False, "E", "4"))
        ends = item.wait(path, 0, poll=0.05)
        assert worker.poll() is None  # it returned with the worker alive
        assert {n: end["status"] for n, end in ends.items()} == {3: "completed", 4: "failed"}
    finally:
        worker.kill()
        worker.wait()
