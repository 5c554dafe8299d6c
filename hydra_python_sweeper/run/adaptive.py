"""An adaptive sweep's wiring: the results its entrypoint sees, paced, journaled, replayed.

An entrypoint with a ``results`` parameter (see :mod:`space.results`) is called with a live view
of the jobs that ended. :class:`Adaptive` checks that the sweep can be adaptive, sets what
the generator sees before each batch is drawn (:meth:`Adaptive.drawing`, recorded in the
journal as a *drawn* line), learns each batch's results when its launch returns (a *learnt*
line), and on a resume replays what each draw saw (:func:`read_replay`).

    >>> adaptive = Adaptive(journal=None, dry_run=True)
    >>> adaptive.active, len(adaptive.results)
    (False, 0)
"""

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus

from hydra_python_sweeper.errors import SettingError
from hydra_python_sweeper.journal.files import open_journal
from hydra_python_sweeper.journal.writer import append
from hydra_python_sweeper.space.results import Result, Results
from hydra_python_sweeper.space.sources import is_adaptive, plain


class Adaptive:
    """One sweep's results, as its adaptive entrypoint sees them; ``active`` once
    :meth:`check` found an entrypoint that takes them. ``journal``: the journal's path,
    ``None`` while the sweep writes none (a dry run)."""

    def __init__(self, journal: Optional[Path], dry_run: bool) -> None:
        self.results = Results()
        self.journal = journal
        self.dry_run = dry_run
        self.active = False
        self.parser: Optional[OverridesParser] = None  # for the job dicts

    def check(
        self, command_line: Sequence[Any], entrypoints: Sequence[Any], num_shards: int
    ) -> bool:
        """Whether an entrypoint takes results (an adaptive sweep), after checking that it
        can: it must be the outermost factor, called once, and the sweep unsharded."""
        adaptive = [index for index, factor in enumerate(entrypoints) if is_adaptive(factor)]
        if not adaptive:
            return False
        name = entrypoints[adaptive[0]].name
        if adaptive != [0]:
            raise SettingError(
                f"{name} takes results, so it must be the first entrypoint (the outermost): "
                "an inner one is called again for each outer job, and could not follow them"
            )
        swept = [len(factor) for factor in command_line if len(factor) != 1]
        if swept:
            raise SettingError(
                f"{name} takes results, so the command line cannot sweep (it is the outer "
                "factor: the entrypoint would be called again for each of its values); give "
                "those values to the entrypoint instead"
            )
        if num_shards > 1:
            raise SettingError(
                f"{name} takes results: an adaptive sweep cannot be sharded (each shard would "
                "see only its own results)"
            )
        self.active = True
        return True

    def replay(self) -> None:
        """A resume: start from what the journal says each draw saw. The completed jobs no
        run learnt (their batch was interrupted) are replayed last, in job order, and
        recorded as learnt so: the next resume replays them in the same place."""
        assert self.journal is not None
        recorded, schedule, unlearnt = read_replay(self.journal, self.job_dict)
        self.results.replay(recorded, schedule)
        if unlearnt and not self.dry_run:
            append(self.journal, {"learnt": unlearnt})

    def drawing(self, k: int) -> None:
        """Batch ``k`` is about to be drawn: set what its generator sees, and record it in
        the journal (unless replaying it)."""
        seen = self.results.drawing(k)
        if not self.results.replaying and self.journal is not None and not self.dry_run:
            append(self.journal, {"drawn": k, "seen": seen})

    def job_dict(self, overrides: Sequence[str]) -> Dict[str, Any]:
        """A job's override strings back as the dict of its keys and values."""
        if self.parser is None:
            self.parser = OverridesParser.create()
        parsed = self.parser.parse_overrides(list(overrides))
        return {o.get_key_element(): plain(o.value()) for o in parsed}

    def learn(self, start: int, returns: Sequence[JobReturn]) -> None:
        """A batch returned: its results are seen from the next draw."""
        assert self.journal is not None
        for number, job_return in enumerate(returns, start):
            completed = job_return.status == JobStatus.COMPLETED
            self.results.learn(
                Result(
                    number,
                    self.job_dict(job_return.overrides or []),
                    "completed" if completed else "failed",
                    job_return._return_value,
                )
            )
        append(self.journal, {"learnt": list(range(start, start + len(returns)))})


def read_replay(path: Path, job: Any) -> Tuple[List[Any], List[int], List[int]]:
    """What an adaptive sweep's generator saw: the results in the order the sweeper learnt
    them (then the completed jobs it never learnt, their batch interrupted), how many it had
    seen at each draw, and the numbers of those never learnt. ``job`` turns a job's override
    strings into its dict."""
    ends: Dict[int, Dict[str, Any]] = {}
    recorded: List[Result] = []
    learnt: Set[int] = set()
    schedule: List[int] = []
    with open_journal(path) as f:
        for raw in f:
            try:
                record = json.loads(raw)
            except (ValueError, RecursionError):
                continue  # torn: read() has said so
            if "drawn" in record:
                if record["drawn"] == len(schedule):
                    schedule.append(int(record["seen"]))
            elif "learnt" in record:
                for number in record["learnt"]:
                    if number in ends:
                        recorded.append(_result(number, ends[number], job))
                        learnt.add(number)
            elif record.get("status") in ("completed", "failed"):
                ends[record["job"]] = record
    unlearnt = [n for n in sorted(set(ends) - learnt) if ends[n]["status"] == "completed"]
    recorded.extend(_result(number, ends[number], job) for number in unlearnt)
    return recorded, schedule, unlearnt


def _result(number: int, record: Dict[str, Any], job: Any) -> Any:
    return Result(number, job(record.get("overrides", [])), record["status"], record["return"])
