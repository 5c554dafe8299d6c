"""Keys one source sets and an earlier source replaces: said once, their duplicates counted.

A job's command-line (or ``params``) override wins over an entrypoint's of the same key, as
an earlier entrypoint's wins over a later one's. That is the rule, but silent it surprises:
``python train.py -m num_layers=2`` turns every job of a ``layers`` entrypoint into a
``num_layers=2`` one, several of them now the same job. :class:`Shadowing` watches the merge
(as its :data:`.product.Observer`): the first time a source's key is replaced, it says so,
before the job's batch is launched (and in a dry run); and from then on it counts the jobs
that became duplicates of earlier ones, which ``remove_duplicates`` would drop::

    >>> from hydra_python_sweeper.space.format import Formatter
    >>> from hydra_python_sweeper.space.product import merge_jobs
    >>> formatter, shadowing = Formatter(), Shadowing(["the command line", "entrypoint 'f'"])
    >>> parts = [(formatter.job({"n": 2}), formatter.job({"n": n})) for n in (1, 3)]
    >>> list(merge_jobs(parts, (0, 1), shadowing.observe))
    [['n=2'], ['n=2']]
    >>> shadowing.said
    [('n', 0, 1)]
"""

import itertools
import logging
from typing import Dict, List, Optional, Sequence, Tuple

from hydra_python_sweeper.space.digests import DigestSet
from hydra_python_sweeper.space.format import Shape
from hydra_python_sweeper.space.stages import Dropped, job_digests

log = logging.getLogger(__name__)


class Shadowing:
    """Watches the merge of the sources named ``names`` (by source number: the command
    line's is 0) whose parts come from ``sources`` (``None``: each part its own source)."""

    def __init__(self, names: Sequence[str], sources: Optional[Sequence[int]] = None) -> None:
        self.names = list(names)
        self.sources = sources
        self.said: List[Tuple[str, int, int]] = []  # (key, winning source, replaced source)
        self.duplicates = Dropped()  # jobs made duplicates of earlier ones (counted, kept)
        self.seen: Optional[DigestSet] = None  # from the first shadowing on

    def observe(
        self, shapes: Sequence[Shape], plan: Tuple[bool, ...], overrides: List[str]
    ) -> None:
        """A new merge plan drops overrides: say each key it replaces, once per source."""
        set_by: Dict[str, int] = {}  # bare key -> the first source that set it
        index = 0
        for part, shape in enumerate(shapes):
            source = self.sources[part] if self.sources is not None else part
            for bare in shape.bares:
                if plan[index]:
                    set_by.setdefault(bare, source)
                elif (bare, set_by.get(bare), source) not in self.said:
                    self.say(bare, set_by.get(bare, 0), source, overrides, plan)
                index += 1
        if self.seen is None:
            self.seen = DigestSet()

    def say(
        self, key: str, winner: int, replaced: int, overrides: List[str], plan: Tuple[bool, ...]
    ) -> None:
        self.said.append((key, winner, replaced))
        job = " ".join(itertools.compress(overrides, plan))
        log.warning(
            f"{_capital(self.name(winner))} sets {key}, which {self.name(replaced)} also "
            f"sets: the value of {self.name(winner)} is the one every such job gets (the "
            f"first: {job}). Jobs made the same by it are counted in the summary; "
            "hydra.sweeper.remove_duplicates=true drops them"
        )

    def name(self, source: int) -> str:
        return self.names[source] if 0 <= source < len(self.names) else f"source {source}"

    def count(self, jobs: List[Sequence[str]]) -> List[Sequence[str]]:
        """A chunk of merged jobs, kept whole; once a key was replaced, the jobs that
        repeat an earlier one are counted (as ``remove_duplicates`` would drop them)."""
        if self.seen is not None and jobs:
            new = self.seen.add_all(list(job_digests(jobs)))
            self.duplicates.count += len(jobs) - sum(new)
        return jobs


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
