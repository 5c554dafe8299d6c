"""Python values written as overrides reach the job's config unchanged."""

import math
import os
from typing import Any

import pytest
from hydra import compose, initialize
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra._internal.grammar.utils import escape_special_characters
from hydra.core.override_parser.overrides_parser import OverridesParser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from hydra_plugins.hydra_python_sweeper.utils import DELETE, raw
from hydra_python_sweeper.errors import JobError
from hydra_python_sweeper.space.format import format_job
from hydra_python_sweeper.space.values import format_dict_key, format_value


@pytest.fixture(scope="module")
def hydra_app() -> Any:
    with initialize(version_base=None):
        yield


def job_value(text: str) -> Any:
    """The value a job's config holds for the override ``+value=<text>``."""
    cfg = compose(overrides=[f"+value={text}"])
    return OmegaConf.to_container(cfg, resolve=True)["value"]


_parser = OverridesParser.create()


def applied_value(text: str) -> Any:
    """As :func:`job_value`, by the step of composition that applies overrides alone."""
    cfg = OmegaConf.create({})
    ConfigLoaderImpl._apply_overrides_to_config(_parser.parse_overrides([f"+value={text}"]), cfg)
    return OmegaConf.to_container(cfg, resolve=True)["value"]


def same(a: Any, b: Any) -> bool:
    """Equality that also holds between nans and between a tuple and its list."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, (list, tuple)):
        return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
dict_keys = st.from_regex(r"[A-Za-z0-9_\-/\\+.$%*@?|()\[\]{}:=, \t]{1,8}", fullmatch=True)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | text
json_like = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(dict_keys, inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_like)
def test_any_json_like_value_round_trips_into_the_config(value: Any) -> None:
    try:
        text = format_value(value)
    except JobError as error:  # only dict keys the grammar would read as another type
        assert "would be read as a" in str(error)
        return
    assert same(value, applied_value(text))


@settings(max_examples=300, deadline=None)
@given(dict_keys)
def test_a_dict_key_is_refused_exactly_when_the_grammar_would_change_its_type(key: str) -> None:
    read_back = applied_value("{" + escape_special_characters(key) + ": 1}")
    try:
        format_dict_key(key)
    except JobError:
        assert not isinstance(next(iter(read_back)), str)
    else:
        assert read_back == {key: 1}


@pytest.mark.usefixtures("hydra_app")
@pytest.mark.parametrize(
    "value",
    [
        "",
        " ",
        "1",
        "-1",
        "1.5",
        "1e3",
        "1_000",
        "true",
        "False",
        "null",
        "NULL",
        "inf",
        "-nan",
        "a b",
        "a,b",
        "a=b",
        "it's",
        'say "hi"',
        "[1, 2]",
        "{a: 1}",
        "x:y",
        "back\\slash",
        "ends with\\",
        "\\'",
        "${model.lr}",
        "\\${x}",
        "${oc.env:HOME}",
        "ünïcödé",
        "tab\there",
        "new\nline",
        "???",
        "a.b/c-d_e",
        "@home",
        "%d",
        "~x",
        0,
        -0.0,
        1e-10,
        1e300,
        2**70,
        float("inf"),
        float("-inf"),
        True,
        None,
        [],
        {},
        [[], [[1]]],
        {"a b": [1, {"c": None}]},
        ("tuple", 2),
    ],
    ids=repr,
)
def test_tricky_values_round_trip(value: Any) -> None:
    assert same(value, job_value(format_value(value)))


def test_lists_print_as_in_the_transcripts() -> None:
    assert format_value([32, 64]) == "[32, 64]"
    assert format_value({"a": [1, 2]}) == "{a: [1, 2]}"


def test_bare_strings_stay_bare() -> None:
    assert format_value("relu") == "relu"
    assert format_value("data/train.csv") == "data/train.csv"


def basic_sweeper_writes(text: str) -> str:
    """The value BasicSweeper writes for the command line's ``+value=<text>``."""
    [[[override]]] = BasicSweeper.split_arguments(_parser.parse_overrides([f"+value={text}"]), None)
    return override[len("+value=") :]


@pytest.mark.parametrize("value", ["127.0.0.1", "/data/a", "2023-01-01", "v1.2-rc+3", "50%", "x|y"])
def test_strings_are_written_as_basic_sweeper_writes_them(value: str) -> None:
    # overrides.yaml, override_dirname and the output directories then do not change when
    # a sweep moves from the command line into an entrypoint
    assert format_value(value) == basic_sweeper_writes(value)
    assert applied_value(format_value(value)) == value


@pytest.mark.parametrize(
    "value, typed",
    [("a:b", "'a:b'"), ("a b", "'a b'"), ("s3://b/k", "'s3://b/k'"), ("it's", '"it\'s"')],
)
def test_strings_to_escape_are_quoted_as_users_quote_them(value: str, typed: str) -> None:
    # on the command line users quote a value with spaces or colons, and BasicSweeper keeps
    # their quotes: the same override string, override_dirname and output dir
    assert format_value(value) == typed == basic_sweeper_writes(typed)
    assert applied_value(format_value(value)) == value


@pytest.mark.parametrize(
    "value, typed",
    [
        (True, "true"),
        (False, "False"),
        (None, "null"),
        (3, "3"),
        (-2.5, "-2.5"),
        (1e-05, "1e-05"),
        (float("-inf"), "-inf"),
        ("relu", "relu"),
    ],
)
def test_scalars_are_written_as_basic_sweeper_writes_them(value: Any, typed: str) -> None:
    assert format_value(value) == basic_sweeper_writes(typed)


# What an unquoted value may hold, and characters that need quotes, for the two tests below.
grammar_text = st.text(st.sampled_from("aZ09_-/+.%*@?|:$ eEnN,'\"=()[]{}~#!é\t\\"), max_size=10)


def bare_reading(text: str) -> Any:
    """What the grammar reads from ``text`` written unquoted, or an error's class."""
    try:
        return applied_value(text)
    except Exception as error:
        return type(error)


@settings(max_examples=int(os.environ.get("GRAMMAR_EXAMPLES", "400")), deadline=None)
@given(grammar_text)
def test_a_string_written_unquoted_parses_back_to_itself(value: str) -> None:
    text = format_value(value)
    if text[:1] not in ("'", '"'):
        assert bare_reading(text) == value


@settings(max_examples=int(os.environ.get("GRAMMAR_EXAMPLES", "400")), deadline=None)
@given(st.text(st.sampled_from("aZ09_-/+.%*@?|:$ eEnNl,'\"=()[]{}~#!é"), max_size=10))
def test_a_string_is_quoted_only_when_the_grammar_needs_it(value: str) -> None:
    # no backslash or tab here: those are always quoted, for readability, as are "" (which
    # the grammar reads from `key=`, but not from a list's `[,]`) and leading or trailing
    # spaces (which it strips, except around a colon)
    if value and value == value.strip() and bare_reading(value) == value:
        if " " in value or ":" in value:  # the grammar reads it bare, but users quote it
            assert format_value(value) == basic_sweeper_writes(format_value(value))
            assert format_value(value)[0] in "'\""
        else:
            assert format_value(value) == basic_sweeper_writes(value)


@pytest.mark.usefixtures("hydra_app")
def test_delete_removes_the_key_whatever_its_value() -> None:
    base = ["+db={host: h, port: 3306}"]
    overrides = format_job({"~db.port": DELETE, "~db.host": "h"})[1]
    assert overrides == ["~db.port", "~db.host=h"]
    assert OmegaConf.to_container(compose(overrides=[*base, *overrides]).db) == {}
    # a value other than null deletes the key only if it has that value
    with pytest.raises(Exception, match="is 3306 and not 1"):
        compose(overrides=[*base, "~db.port=1"])


def test_subclasses_of_supported_types_are_written_as_their_base() -> None:
    import enum

    class Size(enum.IntEnum):
        SMALL = 3

    class Color(str, enum.Enum):
        RED = "red"

    assert format_value(Size.SMALL) == "3"
    assert format_value(Color.RED) == "red"


@pytest.mark.usefixtures("hydra_app")
def test_raw_passes_grammar_through_so_interpolations_resolve() -> None:
    cfg = compose(overrides=["+a=3", f"+b={format_value(raw('${a}'))}"])
    assert cfg.b == 3


@pytest.mark.parametrize(
    "value, message",
    [
        ({1, 2}, "value {1, 2} of type set is not supported"),
        (b"x", "of type bytes is not supported"),
        (object(), "of type object is not supported"),
        ([1, {2}], "of type set is not supported"),
        ({1: "a"}, "dict key 1 is a int, not a string"),
        ({"": 1}, "dict key '' cannot be written"),
        ({"it's": 1}, 'dict key "it\'s" cannot be written'),
        ({"0": 1}, "dict key '0' would be read as a number"),
        ({"-1.5e3": 1}, "dict key '-1.5e3' would be read as a number"),
        ({"True": 1}, "dict key 'True' would be read as a bool"),
        ({"null": 1}, "dict key 'null' would be read as a null"),
    ],
)
def test_unsupported_values_are_rejected(value: Any, message: str) -> None:
    with pytest.raises(JobError, match=None) as info:
        format_value(value)
    assert message in str(info.value)


def test_raw_is_recognised_in_any_copy_of_its_class() -> None:
    # On Python 3.9 Hydra's plugin discovery executes utils.py again: a second raw class.
    other_raw = type("raw", (str,), {"raw_override": True})
    assert format_value(other_raw("${a}")) == "${a}"


def test_a_string_with_a_lone_surrogate_is_refused_up_front() -> None:
    from hydra_python_sweeper.space.stages import format_jobs

    with pytest.raises(JobError, match="holds a lone surrogate"):
        format_value("caf\udcff")
    with pytest.raises(JobError, match=r"entrypoint 'e', job #1, key '\+s': the string"):
        list(format_jobs([{"+s": "ok"}, {"+s": ["caf\udcff"]}], "entrypoint 'e'"))


def test_a_key_too_long_to_name_a_file_is_refused_up_front() -> None:
    from hydra_python_sweeper.space.stages import format_jobs

    fine = "+" + "k" * 254  # 255 bytes: a file name may have that many
    assert len(list(format_jobs([{fine: 1}], "entrypoint 'e'"))) == 1
    long = "+" + "k" * 300
    with pytest.raises(JobError, match=r"entrypoint 'e', job #1, key '\+k+': key .* is 301 bytes"):
        list(format_jobs([{"+s": 1}, {long: 2}], "entrypoint 'e'"))
