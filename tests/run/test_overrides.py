"""Plain overrides read without Hydra's grammar: the same ``Override`` as Hydra's parser."""

from typing import Optional

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hypothesis import example, given
from hypothesis import strategies as st

from hydra_python_sweeper.run.overrides import parse_plain

PARSER = OverridesParser.create()

keys = st.from_regex(
    r"[A-Za-z_][A-Za-z0-9_]{0,6}(\.[A-Za-z_0-9][A-Za-z0-9_]{0,4}){0,2}", fullmatch=True
)
values = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["true", "false", "null", "True", "NULL", "nan", "NaN", "inf", "-inf",
                     "0", "-0", "00", "01", "1.", ".5", "1e3", "1_000", "+1", "a-b", "a/b",
                     "", " ", "a b", "x,y", "[1]", "{a: 1}", "é", "${x}", "choice(1,2)"]),
    st.text(st.characters(codec="utf-8"), max_size=8),
    st.text(st.characters(codec="utf-8"), max_size=8).map(lambda t: f"'{t}'"),
    st.text(st.characters(codec="utf-8"), max_size=8).map(lambda t: f'"{t}"'),
)  # fmt: skip
texts = st.one_of(
    st.tuples(st.sampled_from(["", "+", "++", "~"]), keys, values).map(
        lambda t: f"{t[0]}{t[1]}={t[2]}"
    ),
    keys.map(lambda k: f"~{k}"),
    st.text(max_size=12),
)


def hydra_s(text: str) -> Optional[Override]:
    try:
        return PARSER.parse_override(text)
    except Exception:
        return None


@given(texts)
@example("+name='job 1'")
@example("x=1.5")
@example("x=TRUE")
@example("~db.user")
@example("~x=1")
@example("x=-0")
@example("a.b='it''s'")
@example("x='${y}'")
def test_a_plain_override_is_read_as_hydra_reads_it(text: str) -> None:
    plain = parse_plain(text)
    if plain is None:
        return  # left to Hydra's parser
    hydra = hydra_s(text)
    assert hydra is not None, text
    assert plain == hydra
    assert type(plain._value) is type(hydra._value)
    assert plain.value() == hydra.value() and type(plain.value()) is type(hydra.value())


def test_the_overrides_a_sweep_writes_are_plain() -> None:
    for text in ["+x=1", "lr=0.001", "db=mysql", "+name='job 7'", "~db.user", "debug=true"]:
        assert parse_plain(text) == hydra_s(text)
