"""The Optuna search, an adaptive entrypoint: a trial asked when a slot frees, told when its
job ends.

:func:`search` is a generator over the sweep's ``results``: the sweeper draws its next job
when a place in flight frees (``max_in_flight`` places, a batch of one job each), and
:meth:`Trials.tell` is told each result as soon as the sweeper learns it
(:meth:`Results.follow`), so no trial waits for another. Each trial's job is kept in the
trial (a user attribute), so a resumed sweep yields the trials it asked before as they
were, in the same order: the journal skips those that completed, runs again the others, and
their results reach the same trials; then it asks the rest, up to ``n_trials``.

    >>> trials = Trials(None, "sweep", 2, {}, None)
    >>> trials.expect(0, {"x": 1.5}); trials.expect(1, {"x": 2.5})
    >>> trials.trial_of({"x": 2.5, "sleep": 1}), trials.trial_of({"x": 2.5})
    (1, None)
"""

import json
import logging
import math
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Set, Tuple

import optuna
from optuna.trial import FrozenTrial, TrialState

from hydra_python_sweeper.errors import SettingError
from hydra_python_sweeper.optuna import study as studies
from hydra_python_sweeper.optuna.space import grid, search_space
from hydra_python_sweeper.run.settings import failure_rate
from hydra_python_sweeper.space.results import Result
from hydra_python_sweeper.space.sources import resolve

log = logging.getLogger(__name__)

#: The user attribute that holds a trial's place in its sweep and its job.
ATTRIBUTE = "hydra_python_sweeper"
#: The sweep's composed config, for ``custom_search_space`` (``hydra/sweeper=python_optuna``
#: sets it).
SWEEP_CONFIG: Any = None

Job = Dict[str, Any]


def search(
    results: Sequence[Result],
    params: Optional[Mapping[str, Any]] = None,
    sampler: Optional[Mapping[str, Any]] = None,
    direction: Any = "minimize",
    n_trials: int = 20,
    study_name: Optional[str] = None,
    storage: Any = None,
    sweep_dir: str = ".",
    custom_search_space: Optional[str] = None,
    max_failure_rate: Optional[float] = None,
) -> Iterator[Job]:
    """Ask ``n_trials`` trials of the study ``study_name`` (in ``storage``, by default a
    journal file in ``sweep_dir``), one a job; ``params``: the search space in Hydra's sweep
    grammar (fixed values go to every trial); ``custom_search_space``: the dotted path of
    a function ``f(config, trial)`` that suggests more; ``max_failure_rate``: no more
    trials are asked once more than this fraction of ``n_trials`` failed (0: no limit of
    the search's own; the sweep's ``fail_fast`` stops it at a failed job)."""
    if not isinstance(n_trials, int) or n_trials < 1:
        raise SettingError(f"hydra.sweeper.n_trials={n_trials!r}: expected a positive integer")
    if max_failure_rate is not None:
        max_failure_rate = failure_rate(max_failure_rate)
    space, fixed = search_space(dict(params or {}))
    names = studies.directions(direction)
    made = studies.sampler(sampler, space)
    extend = resolve(custom_search_space, "custom_search_space") if custom_search_space else None
    if isinstance(made, optuna.samplers.GridSampler):
        size = math.prod(len(values) for values in grid(space).values())
        if size < n_trials:
            log.info(f"n_trials: {n_trials} -> {size}, the grid's size")
            n_trials = size
    # the settings checked up front, when the sweep is assembled; the study opened when
    # the first trial is drawn, once the sweep holds its dir
    where = Path(sweep_dir).absolute()
    name = study_name or "hydra-python-sweeper"
    return _asked(results, space, fixed, names, made, extend, n_trials, name, storage, where,
                  sampler, max_failure_rate)  # fmt: skip


def _asked(
    results: Sequence[Result],
    space: Dict[str, Any],
    fixed: Dict[str, Any],
    names: List[str],
    made: optuna.samplers.BaseSampler,
    extend: Any,
    n_trials: int,
    name: str,
    storage: Any,
    where: Path,
    sampler: Any,
    max_failure_rate: Optional[float],
) -> Iterator[Job]:
    """:func:`search`'s trials, asked one a draw."""
    study = studies.open_study(name, studies.storage(storage, where), made, names)
    trials = Trials(study, str(where), n_trials, fixed, max_failure_rate)
    earlier = trials.earlier()
    if earlier:
        study.sampler = studies.sampler(sampler, space, seed_offset=len(earlier))
    log.info(
        f"Study '{name}' ({storage if storage is not None else where / studies.STORAGE_FILE}), "
        f"{type(study.sampler).__name__}, {' and '.join(names)}, {n_trials} trials"
        + (f": {len(earlier)} asked by an earlier run" if earlier else "")
    )
    trials.replaying = True  # the results the sweeper has: each told once, if not yet
    results.follow(trials.tell)  # type: ignore[attr-defined]
    trials.replaying = False
    for job in earlier[:n_trials]:
        yield dict(job)
    for index in range(len(earlier), n_trials):
        if trials.stopped:
            return
        asked = trials.ask(space, index)
        if extend is not None:
            extend(SWEEP_CONFIG, asked)
        yield trials.asked(asked, index)


class Trials:
    """This sweep's trials of ``study``: each one's job, and its result told as it ends."""

    def __init__(
        self,
        study: optuna.Study,
        sweep: str,
        n_trials: int,
        fixed: Mapping[str, Any],
        max_failure_rate: Optional[float],
    ) -> None:
        self.study = study
        self.sweep = sweep
        self.n_trials = n_trials
        self.fixed = dict(fixed)
        self.max_failure_rate = max_failure_rate
        #: The trials whose job has not ended, in the order they were asked: each one's
        #: number and job (its values as JSON, to compare).
        self.pending: List[Tuple[int, Dict[str, str]]] = []
        #: Each trial's number, job (as JSON), parameters and distributions.
        self.known: List[Tuple[int, Dict[str, str], Dict[str, Any], Dict[str, Any]]] = []
        self.told = self.failed = 0
        self.stopped = False
        self.best_written = False
        #: This sweep's trials made but not asked (a run was stopped in between), by index.
        self.waiting: Set[int] = set()
        #: While the results of earlier runs are replayed: a result whose trial was told
        #: is one told before, not a job that ran again.
        self.replaying = False

    def earlier(self) -> List[Job]:
        """The jobs of the trials this sweep asked in its earlier runs, in the order it
        asked them; the unfinished ones now wait for their jobs' results. A trial made but
        not yet asked (a run stopped in between) is asked next, in its place."""
        mine = [trial for trial in self.study.get_trials(deepcopy=False) if self.owns(trial)]
        mine.sort(key=lambda trial: trial.user_attrs[ATTRIBUTE]["index"])
        jobs = []
        for trial in mine:
            if trial.state == TrialState.WAITING:
                self.waiting.add(trial.user_attrs[ATTRIBUTE]["index"])
                continue
            # a run stopped once it was asked, before its job was kept: its parameters
            job = trial.user_attrs[ATTRIBUTE].get("job") or {**trial.params, **self.fixed}
            if trial.state.is_finished():
                self.told += 1
                self.failed += trial.state == TrialState.FAIL
            else:
                self.expect(trial.number, job)
            self.known.append((trial.number, as_json(job), trial.params, trial.distributions))
            jobs.append(job)
        return jobs

    def owns(self, trial: FrozenTrial) -> bool:
        """Whether ``trial`` was asked for this sweep (a trial of its own, not a job run
        again: see :meth:`again`)."""
        attribute = trial.user_attrs.get(ATTRIBUTE, {})
        return attribute.get("sweep") == self.sweep and "index" in attribute

    def ask(self, space: Mapping[str, Any], index: int) -> optuna.Trial:
        """Trial ``index`` of this sweep, asked: made first with its place in the sweep (in
        one write), so that a run killed at any point leaves no trial the next run cannot
        tell its own."""
        if index not in self.waiting:
            attribute = {ATTRIBUTE: {"sweep": self.sweep, "index": index}}
            # as Optuna's enqueue_trial makes one, without fixed parameters (which the grid
            # sampler would refuse): the next ask takes it
            made = optuna.trial.create_trial(state=TrialState.WAITING, user_attrs=attribute)
            self.study.add_trial(made)
        self.waiting.discard(index)
        return self.study.ask(dict(space))

    def asked(self, trial: optuna.Trial, index: int) -> Job:
        """Trial ``index`` of this sweep was asked: its job (its parameters, then the fixed
        values), kept in the trial and awaited."""
        job = dict(trial.params)
        overlap = set(job) & set(self.fixed)
        if overlap:
            raise SettingError(
                f"hydra.sweeper.params: {sorted(overlap)} are both fixed and searched"
            )
        job.update(self.fixed)
        trial.set_user_attr(ATTRIBUTE, {"sweep": self.sweep, "index": index, "job": job})
        self.expect(trial.number, job)
        self.known.append((trial.number, as_json(job), dict(trial.params), trial.distributions))
        return job

    def expect(self, number: int, job: Mapping[str, Any]) -> None:
        self.pending.append((number, as_json(job)))

    def trial_of(self, job: Mapping[str, Any]) -> Optional[int]:
        """The first trial asked that waits for ``job`` (a job has the trial's overrides
        and the command line's), taken off the waiting ones; ``None``: none waits."""
        given = as_json(job)
        for index, (number, expected) in enumerate(self.pending):
            if _within(expected, given):
                del self.pending[index]
                return number
        return None

    def tell(self, result: Result) -> None:
        """A job ended: tell its trial (the first asked with this job that waits). A job
        that ends again once its trial was told (a failed job run again by a resume) is a
        trial of its own."""
        number = self.trial_of(result.job)
        if number is None:
            if not self.replaying:
                self.again(result)
            return
        values, problem = self.values(result)
        state = TrialState.COMPLETE if problem is None else TrialState.FAIL
        if problem is not None and result.status == "completed":
            log.warning(f"Trial {number} (job #{result.number}) told as failed: {problem}")
        try:
            self.study.tell(number, values if problem is None else None, state=state)
        except RuntimeError as error:  # the grid sampler stops a study it finds complete
            if "Study.stop" not in str(error):
                raise
        self.count(state)

    def again(self, result: Result) -> None:
        """A job of a trial already told ended again: the result goes in as a new trial."""
        given = as_json(result.job)
        found = [known for known in self.known if _within(known[1], given)]
        if not found:
            return  # not a job of this search's
        number, _, params, distributions = found[0]
        values, problem = self.values(result)
        state = TrialState.COMPLETE if problem is None else TrialState.FAIL
        self.study.add_trial(
            optuna.trial.create_trial(
                params=params,
                distributions=distributions,
                values=values if problem is None else None,
                state=state,
                user_attrs={ATTRIBUTE: {"sweep": self.sweep, "again": number}},
            )
        )

    def values(self, result: Result) -> Tuple[Optional[List[float]], Optional[str]]:
        """The objective values a job returned, or why there are none."""
        if result.status != "completed":
            return None, "its job failed"
        expected = len(self.study.directions)
        returned = result.return_value
        try:
            if expected == 1:
                return [float(returned)], None
            values = [float(v) for v in returned]
        except (TypeError, ValueError):
            what = "a number" if expected == 1 else f"a list of {expected} numbers"
            return None, f"its job returned {returned!r:.80}, not {what}"
        if len(values) != expected:
            return None, f"its job returned {len(values)} values for {expected} objectives"
        return values, None

    def count(self, state: TrialState) -> None:
        self.told += 1
        self.failed += state == TrialState.FAIL
        rate = self.max_failure_rate
        if rate and not self.stopped and self.failed > rate * self.n_trials:
            self.stopped = True
            log.error(
                f"{self.failed} trials failed, more than max_failure_rate={rate} of "
                f"{self.n_trials}: no more trials are asked"
            )
        if self.told >= self.n_trials and not self.best_written:
            self.best_written = True
            studies.write_best(self.study, Path(self.sweep))


def _within(expected: Mapping[str, str], given: Mapping[str, str]) -> bool:
    """Whether a job's values (``given``) hold a trial's (``expected``)."""
    return all(given.get(key) == value for key, value in expected.items())


def as_json(job: Mapping[str, Any]) -> Dict[str, str]:
    """A job's values as JSON, to compare jobs as they were yielded and as they ended.

    >>> as_json({"lr": 0.001, "opt": "adam"}) == as_json({"opt": "adam", "lr": 1e-3})
    True
    """
    return {str(key): json.dumps(value, sort_keys=True) for key, value in job.items()}
