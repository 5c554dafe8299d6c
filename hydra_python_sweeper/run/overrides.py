"""Override strings read as Hydra reads them, the plain ones without Hydra's grammar.

Hydra parses an override with an ANTLR grammar: about a third of a millisecond each, the
largest cost of checking a job before its launch. Most overrides a sweep writes are plain:
a dotted key (``+``, ``++`` or ``~`` before it) and a number, ``true``/``false``/``null``,
a bare word, or a quoted string without escapes or interpolations. :func:`parse_plain` reads
those into the same :class:`Override` Hydra's parser makes (``tests/run/test_overrides.py``
compares the two on generated overrides) and leaves every other override to Hydra's parser::

    >>> plain = parse_plain("+lr=0.1")
    >>> plain.type.name, plain.key_or_group, plain.value()
    ('ADD', 'lr', 0.1)
    >>> parse_plain("db=mysql").value(), parse_plain("+name='a b'").value()
    ('mysql', 'a b')
    >>> parse_plain("x=[1, 2]") is None, parse_plain("db@backup=pg") is None
    (True, True)
"""

import re
from typing import Any, Optional

from hydra.core.override_parser.types import (
    Override,
    OverrideType,
    Quote,
    QuotedString,
    ValueType,
)

_PLAIN = re.compile(
    r"(?P<prefix>\+\+|\+|~)?"
    r"(?P<key>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)"
    r"(?:=(?:"
    r"(?P<int>-?(?:0|[1-9][0-9]*))"
    r"|(?P<float>-?(?:0|[1-9][0-9]*)\.[0-9]+)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
    r"|'(?P<single>[^'\\$]*)'"
    r'|"(?P<double>[^"\\$]*)"'
    r"))?",
    re.ASCII,
)
_TYPES = {None: OverrideType.CHANGE, "+": OverrideType.ADD, "++": OverrideType.FORCE_ADD}
_WORDS = {"true": True, "false": False, "null": None}
_NOT_WORDS = {"nan", "inf", "true", "false", "null"}  # in any case: Hydra's own values


def parse_plain(text: str) -> Optional[Override]:
    """``text`` as Hydra's parser reads it, if it is a plain override; else ``None``."""
    match = _PLAIN.fullmatch(text)
    if match is None:
        return None
    groups = match.groupdict()
    prefix, key = groups["prefix"], groups["key"]
    value: Any
    if groups["int"] is not None:
        value = int(groups["int"])
    elif groups["float"] is not None:
        value = float(groups["float"])
    elif groups["word"] is not None:
        word = groups["word"]
        if word in _WORDS:
            value = _WORDS[word]
        elif word.lower() in _NOT_WORDS:  # TRUE, Null, NaN...: Hydra's grammar decides
            return None
        else:
            value = word
    elif groups["single"] is not None:
        value = QuotedString(text=groups["single"], quote=Quote.single)
    elif groups["double"] is not None:
        value = QuotedString(text=groups["double"], quote=Quote.double)
    elif prefix == "~":  # ~key: no value
        return Override(OverrideType.DEL, key, None, None, input_line=text)
    else:
        return None  # key= (an empty value) and the like
    kind = OverrideType.DEL if prefix == "~" else _TYPES[prefix]
    return Override(kind, key, ValueType.ELEMENT, value, input_line=text)
