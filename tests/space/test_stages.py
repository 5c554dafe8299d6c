"""Each pipeline stage on its own."""

import itertools
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Dict, Iterator, List

import pytest
from more_itertools import chunked

from hydra_python_sweeper.errors import EntrypointFailed, JobError
from hydra_python_sweeper.space.format import (
    Formatter,
    bare_key,
    compile_formatter,
    format_job,
    format_values,
    job_shape,
)
from hydra_python_sweeper.space.markers import DELETE
from hydra_python_sweeper.space.product import lazy_product, merge_jobs, merged_product
from hydra_python_sweeper.space.stages import (
    UniqueJobs,
    format_batches,
    format_jobs,
    is_one_shot,
    job_digest,
    number_batches,
    unique_jobs,
)
from hydra_python_sweeper.space.values import format_value


class Tally:
    """An iterable that counts how many items were drawn from it."""

    def __init__(self, items: Any) -> None:
        self.items = list(items)
        self.drawn = 0

    def __call__(self) -> Iterator[Any]:
        for item in self.items:
            self.drawn += 1
            yield item


# --- format_job / format_jobs ---------------------------------------------------------


def as_dict(formatted: Any) -> Dict[str, str]:
    """A formatted job as bare key -> override."""
    shape, overrides, _ = formatted
    return dict(zip(shape.bares, overrides))


def test_format_job_accepts_mappings_items_and_pair_iterables() -> None:
    expected = {"a": "a=1", "b": "+b=x"}
    assert as_dict(format_job({"a": 1, "+b": "x"})) == expected
    assert as_dict(format_job({"a": 1, "+b": "x"}.items())) == expected
    assert as_dict(format_job([("a", 1), ["+b", "x"]])) == expected
    assert as_dict(format_job(iter([("a", 1), ("+b", "x")]))) == expected
    assert as_dict(format_job(MappingProxyType({"a": 1, "+b": "x"}))) == expected


def test_format_job_keeps_the_first_of_two_keys_that_differ_only_by_prefix() -> None:
    assert as_dict(format_job([("+a", 1), ("a", 2), ("++a", 3), ("~a", None)])) == {"a": "+a=1"}
    assert as_dict(format_job([("+a", 1), ("b", 2), ("a", {3})])) == {"a": "+a=1", "b": "b=2"}


@pytest.mark.parametrize(
    "job, message",
    [
        (42, "a job must be a mapping or an iterable of (key, value) pairs, got 42"),
        ("a=1", "a job must be a mapping or an iterable of (key, value) pairs, got 'a=1'"),
        ([("a", 1, 2)], "('a', 1, 2) is not a (key, value) pair"),
        ([3], "3 is not a (key, value) pair"),
        ({"": 1}, "key '' is not a non-empty string"),
        ({1: 1}, "key 1 is not a non-empty string"),
    ],
)
def test_format_job_rejects_malformed_jobs(job: Any, message: str) -> None:
    with pytest.raises(JobError) as info:
        format_job(job)
    assert str(info.value) == message


def test_format_job_writes_ints_as_format_value_does() -> None:
    values = [0, -5, 2**80, True, False, 1.0]
    assert format_job({f"k{i}": v for i, v in enumerate(values)})[1] == [
        f"k{i}={format_value(v)}" for i, v in enumerate(values)
    ]


def test_format_job_names_the_key_of_an_unsupported_value() -> None:
    with pytest.raises(JobError) as info:
        format_job({"a": 1, "tags": {"x"}})
    assert info.value.key == "tags"
    with pytest.raises(JobError) as info:
        format_job([("+a", 1), ("a", {2}), ("b", {3})])  # the repeated key is dropped, not "b"
    assert info.value.key == "b"


def test_format_jobs_locates_errors_by_source_job_number_and_key() -> None:
    jobs = format_jobs([{"a": 1}, {"a": 2}, {"a": 3, "b": b"?"}], "entrypoint 'm.f'")
    assert next(jobs)[1] == ["a=1"]
    with pytest.raises(JobError) as info:
        list(jobs)
    assert str(info.value).startswith("entrypoint 'm.f', job #2, key 'b': value b'?' of type bytes")


def test_format_jobs_reports_an_exception_raised_by_the_generator_itself() -> None:
    def generate() -> Iterator[Any]:
        yield {"a": 1}
        raise ValueError("boom")

    with pytest.raises(EntrypointFailed) as info:
        list(format_jobs(generate(), "entrypoint 'm.f'"))
    message = str(info.value)
    assert message.startswith("entrypoint 'm.f' raised while generating job #1: ValueError: boom (")
    assert "test_stages.py:" in message and "in generate)" in message
    assert isinstance(info.value.__cause__, ValueError)


def test_format_jobs_is_lazy() -> None:
    source = Tally({"a": i} for i in range(100))
    jobs = format_jobs(source(), "s")
    next(jobs), next(jobs)
    assert source.drawn == 2


# --- lazy_product ---------------------------------------------------------------------


@pytest.mark.parametrize("sizes", [(1,), (3,), (2, 3), (3, 1, 2), (2, 0, 2), (0,)])
def test_lazy_product_equals_itertools_product(sizes: List[int]) -> None:
    factors = [range(n) for n in sizes]
    assert list(lazy_product(*(lambda f=f: f for f in factors))) == list(
        itertools.product(*factors)
    )


def test_lazy_product_draws_no_further_than_the_combination_asked_for() -> None:
    outer, inner = Tally(range(1000)), Tally("ab")
    combinations = lazy_product(outer, inner)
    assert [next(combinations) for _ in range(3)] == [(0, "a"), (0, "b"), (1, "a")]
    assert outer.drawn == 2  # the outer factor is at its second item
    assert inner.drawn == 3


def test_lazy_product_calls_the_outer_factor_once_and_inner_ones_per_combination() -> None:
    calls = {"outer": 0, "inner": 0}

    def factor(name: str, items: Any) -> Any:
        def make() -> Any:
            calls[name] += 1
            return iter(items)

        return make

    assert len(list(lazy_product(factor("outer", range(4)), factor("inner", "xyz")))) == 12
    assert calls == {"outer": 1, "inner": 4}


# --- merge_jobs -----------------------------------------------------------------------


def test_merge_jobs_keeps_the_first_occurrence_of_a_key_in_factor_order() -> None:
    cli = format_job({"lr": 0.1})
    entry = format_job({"+lr": 0.5, "depth": 3})
    assert list(merge_jobs([(cli, entry), (entry, cli)])) == [
        ["lr=0.1", "depth=3"],
        ["+lr=0.5", "depth=3"],
    ]


def test_merge_jobs_of_single_factors_and_empty_jobs() -> None:
    a, empty = format_job({"a": 1}), format_job({})
    assert list(merge_jobs([(a,), (empty,), (empty, empty), (empty, a, a)])) == [
        ["a=1"],
        [],
        [],
        ["a=1"],
    ]


def test_bare_key_strips_every_prefix_only() -> None:
    assert [bare_key(k) for k in ("a", "+a", "++a", "~a", "g@p", "+g/h@p")] == [
        "a",
        "a",
        "a",
        "a",
        "g@p",
        "g/h@p",
    ]


# --- unique_jobs ----------------------------------------------------------------------


def test_unique_jobs_keeps_first_occurrences_in_order_whatever_the_key_order() -> None:
    jobs = [["a=1", "b=2"], ["a=2"], ["b=2", "a=1"], ["a=2"], ["a=3"]]
    assert list(unique_jobs(jobs)) == [["a=1", "b=2"], ["a=2"], ["a=3"]]


def test_unique_jobs_is_lazy() -> None:
    source = Tally([["a=1"], ["a=1"], ["a=2"], ["a=3"]])
    jobs = unique_jobs(source())
    assert next(jobs) == ["a=1"] and next(jobs) == ["a=2"]
    assert source.drawn == 3


def test_job_digest_depends_on_the_overrides_not_their_order() -> None:
    assert job_digest(["a=1", "b=2"]) == job_digest(["b=2", "a=1"])
    assert job_digest(["a=1", "b=2"]) != job_digest(["a=1,b=2"])
    assert job_digest(["a=1"]) != job_digest(["a=1", "a=1"])
    assert len(job_digest([])) == 16


# --- batching -------------------------------------------------------------------------


def test_number_batches_continues_job_numbers_across_batches() -> None:
    batches = chunked((f"j{i}" for i in range(7)), 3)
    assert [(start, len(b)) for start, b in number_batches(batches)] == [(0, 3), (3, 3), (6, 1)]


def test_chunked_draws_only_the_batch_it_returns() -> None:
    source = Tally(range(10))
    batches = chunked(source(), 4)
    assert next(batches) == [0, 1, 2, 3]
    assert source.drawn == 4


def test_is_one_shot() -> None:
    assert not is_one_shot([1]) and not is_one_shot((1,)) and not is_one_shot(range(2))
    assert is_one_shot(iter([1])) and is_one_shot(x for x in [1]) and is_one_shot(map(str, [1]))


@pytest.mark.parametrize(
    "keys",
    [(), ("a",), ("a", "+b", "c"), ("+a", "a", "b", "~a"), ("db@backup", "+g/h@p", "x.a_b")],
)
def test_a_compiled_formatter_equals_format_values(keys: Any) -> None:
    shape = job_shape(keys)
    values_sets = [
        [i for i in range(len(keys))],
        [f"s {i}" for i in range(len(keys))],
        [None, 1.5, [1, "a b"], {"k": True}, -3][: len(keys)],
    ]
    compiled = compile_formatter(shape)
    for values in values_sets:
        assert compiled(values) == format_values(shape, values)


def test_a_shape_seen_often_is_formatted_by_its_compiled_formatter() -> None:
    formatter = Formatter()
    jobs = [{"+x1": i, "+y1": str(i)} for i in range(20)]
    formatted = [formatter.job(job) for job in jobs]
    shape = formatted[0][0]
    assert shape.uid in formatter.writers  # compiled after a few jobs of that shape
    assert [o for _, o, _ in formatted] == [[f"+x1={i}", f"+y1='{i}'"] for i in range(20)]
    with pytest.raises(JobError) as info:
        formatter.job({"+x1": 1, "+y1": {2}})  # errors still name the key
    assert info.value.key == "+y1"


# --- a chunk at a time ------------------------------------------------------------------


class Job(Mapping):  # type: ignore[type-arg]
    """A mapping that is not a dict."""

    def __init__(self, **pairs: Any) -> None:
        self.pairs = pairs

    def __getitem__(self, key: str) -> Any:
        return self.pairs[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)


def mixed_jobs() -> List[Any]:
    """Jobs of several shapes and forms, runs of one shape long enough to be compiled."""
    values = [
        0,
        -7,
        10**30,
        1.5,
        float("inf"),
        float("nan"),
        -0.0,
        True,
        None,
        "a b",
        "1",
        "it's",
        "${x}",
        "né",
        [1, "x y"],
        {"k": [None]},
        ("t", 2),
    ]
    jobs: List[Any] = []
    for value in values * 3:
        jobs.append({"+a": value, "b": len(jobs)})
    jobs += [{"b": 1, "+a": 2}] * 10  # the same keys, in another order
    jobs += [{"+a": 1, "a": 2, "~c": DELETE}] * 10  # a repeated key, a deletion
    jobs += [[("+a", 1), ("b", "pair")], Job(a=1, b="mapping"), {}, {}] * 3
    return jobs


@pytest.mark.parametrize("size", [1, 7, 64, None])
def test_format_batches_writes_every_job_as_one_at_a_time_does(size: Any) -> None:
    jobs = mixed_jobs()
    one_at_a_time = [Formatter().job(job)[1] for job in jobs]
    batches = list(format_batches(iter(jobs), size, "s", Formatter()))
    assert [job for batch in batches for job in batch] == one_at_a_time
    assert all(len(batch) == size for batch in batches[:-1]) if size else len(batches) == 1
    assert one_at_a_time[:3] == [["+a=0", "b=0"], ["+a=-7", "b=1"], ["+a=1" + "0" * 30, "b=2"]]


def test_format_batches_draws_no_further_than_the_batch_being_filled_lacks() -> None:
    source = Tally({"a": i // 3} for i in range(100))  # each job three times
    keep = UniqueJobs()
    batches = format_batches(source(), 4, "s", Formatter(), keep)
    assert next(batches) == [["a=0"], ["a=1"], ["a=2"], ["a=3"]]
    assert source.drawn == 10  # the fourth new job (a=3) was the tenth drawn
    assert next(batches) == [["a=4"], ["a=5"], ["a=6"], ["a=7"]]
    assert source.drawn == 22


def test_format_batches_names_the_job_and_key_that_cannot_be_written() -> None:
    jobs = [{"a": i, "b": "x"} for i in range(30)] + [{"a": 30, "b": {1}}]
    with pytest.raises(JobError) as info:
        list(format_batches(iter(jobs), 25, "entrypoint 'm.f'", Formatter()))
    assert str(info.value).startswith("entrypoint 'm.f', job #30, key 'b': value {1}")


def test_format_batches_names_the_job_a_generator_raised_at() -> None:
    def generate() -> Iterator[Any]:
        yield from ({"a": i} for i in range(12))
        raise ValueError("boom")

    with pytest.raises(EntrypointFailed, match=r"raised while generating job #12: ValueError"):
        list(format_batches(generate(), 5, "entrypoint 'm.f'", Formatter()))


@pytest.mark.parametrize("sources", [None, (0, 0, 1), (0, 1, 1)])
def test_merged_product_equals_merge_jobs_of_lazy_product(sources: Any) -> None:
    formatter = Formatter()
    factors = [
        [formatter.job(job) for job in ({"+a": 1}, {"a": 2, "b": 3}, {"~b": DELETE})],
        [formatter.job(job) for job in ({"b": 4}, {"+a": 5, "c": 6}, {})],
        [formatter.job(job) for job in ({"c": 7, "++a": 8}, {"d": [9]})],
    ]
    made = [lambda f=f: f for f in factors]
    expected = list(merge_jobs(lazy_product(*made), sources))
    assert list(merged_product(made, sources)) == expected
    assert len(expected) == 18 and list(merged_product([])) == [[]]


def test_a_formatter_remembers_a_bounded_number_of_overrides(monkeypatch: Any) -> None:
    from hydra_python_sweeper.space import format as _format

    monkeypatch.setattr(_format, "_REMEMBERED", 50)
    formatter = Formatter()
    jobs = [{"+a": i % 80, "b": f"v {i % 30}", "c": True, "d": 1.0} for i in range(400)]
    written = formatter.chunk(jobs, [])
    expected = [[f"+a={i % 80}", f"b='v {i % 30}'", "c=True", "d=1.0"] for i in range(400)]
    assert written == expected
    assert formatter.remembered == 50  # then written each time, not kept
