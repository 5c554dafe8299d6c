"""Values written in Hydra's override grammar: what any Python value becomes in an override.

:func:`format_value` writes a value so that the job's config holds exactly that
value once Hydra parses the override, spelt as BasicSweeper spells the same value
given on the command line (``Override.get_value_element_as_str``), so that override
strings, ``override_dirname`` and output directories do not change when a sweep
moves from the command line into an entrypoint::

    >>> format_value("127.0.0.1"), format_value("my run"), format_value(True)
    ('127.0.0.1', "'my run'", 'True')

Lists and dicts are written with a space after their commas and colons (Hydra's own
``space_after_sep=True`` spelling, as the transcripts print them), where BasicSweeper
writes none::

    >>> format_value([32, 64]), format_value({"name": "adam", "betas": (0.9, 0.999)})
    ('[32, 64]', '{name: adam, betas: [0.9, 0.999]}')

A string the grammar cannot read back unquoted is single-quoted (a number, a bool
or null as text, quotes, commas, brackets, ``=``, backslashes, non-ASCII, leading
or trailing spaces). A ``${`` in a string is escaped, so the string stays literal;
wrap a value in :class:`~.utils.raw` to pass grammar text through untouched (an
interpolation, for instance)::

    >>> format_value("1"), format_value("a,b"), format_value(None)
    ("'1'", "'a,b'", 'null')
    >>> format_value(raw("${model.width}")), format_value("${model.width}")
    ('${model.width}', "'\\\\${model.width}'")
"""

import math
import re
from typing import Any, Callable, Dict, Tuple

from hydra._internal.grammar.utils import escape_special_characters
from hydra.core.override_parser.types import Quote, QuotedString

from hydra_python_sweeper.errors import JobError
from hydra_python_sweeper.space.markers import DELETE, raw

# A string the grammar reads back unchanged without quotes: a run of the characters an
# unquoted value may hold (letters, digits, ``_-/+.%*@?|:$`` and inner spaces), which Hydra's
# parser joins into one string when the run has several tokens. It must not be a single
# token of another type: a number, a bool, null (see _TYPED, below). No ``${``, no ``\``.
_UNQUOTED = r"A-Za-z0-9_\-/+.%*@?|:$"
_BARE = re.compile(rf"[{_UNQUOTED}](?:[{_UNQUOTED} ]*[{_UNQUOTED}])?\Z")
# OmegaConf reads ``${`` as an interpolation and ``\`` before it as an escape.
_INTERPOLATION = re.compile(r"(\\*)\$\{")
# Characters a dict key may hold: the grammar's ``dictKey`` has no quoted form.
_DICT_KEY = re.compile(r"[A-Za-z0-9_\-/\\+.$%*@?|()\[\]{}:=, \t]+\Z")
# A single token the grammar reads as an int, a float, a bool or null (its lexer's rules).
_UINT = r"(?:0|[1-9](?:_?[0-9])*)"
_POINT = rf"(?:{_UINT}\.|{_UINT}?\.[0-9](?:_?[0-9])*)"
_TYPED = re.compile(
    rf"[+-]?(?:{_UINT}|{_POINT}|(?:{_POINT}|{_UINT})[eE][+-]?[0-9](?:_?[0-9])*|inf|nan)"
    r"|true|false|null",
    re.IGNORECASE,
)


def _escape_interpolation(match: "re.Match[str]") -> str:
    return match.group(1) * 2 + "\\${"


def format_string(value: str) -> str:
    """A string as a user writes it on the command line: bare when the grammar reads it back
    as the same string with nothing escaped, as BasicSweeper then writes it; else quoted as
    users quote (BasicSweeper keeps their quotes), in single quotes, or in double quotes
    when it holds a single quote and no double quote.

    >>> format_string("relu"), format_string("127.0.0.1"), format_string("/data/a b")
    ('relu', '127.0.0.1', "'/data/a b'")
    >>> format_string("true"), format_string("a:b"), format_string("it's"), format_string("")
    ("'true'", "'a:b'", '"it\\'s"', "''")
    """
    if not value.isascii():
        _check_encodable(value)
    if _BARE.match(value) and not _TYPED.fullmatch(value) and " " not in value:
        if ":" not in value:
            return value
    if "${" in value:
        value = _INTERPOLATION.sub(_escape_interpolation, value)
    quote = Quote.double if "'" in value and '"' not in value else Quote.single
    return QuotedString(text=value, quote=quote).with_quotes()


def _check_encodable(value: str) -> None:
    """:class:`JobError` if ``value`` cannot be written as UTF-8 (a lone surrogate, as
    ``os.fsdecode`` makes of undecodable bytes): its override, the job's config files and
    the journal could not hold it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise JobError(
            f"the string {value!r} holds a lone surrogate ({value[error.start]!r}), which "
            "cannot be written as UTF-8: the job's config files and the journal could not hold "
            "it (decode the bytes it came from, or pass them as hex)"
        ) from None


def format_float(value: float) -> str:
    """A float, written so that the grammar reads it back as a float.

    >>> format_float(1e-10), format_float(float("-inf")), format_float(3.0)
    ('1e-10', '-inf', '3.0')
    """
    if math.isfinite(value):
        return repr(float(value))
    if math.isnan(value):
        return "nan"
    return "inf" if value > 0 else "-inf"


def format_dict_key(key: Any) -> str:
    """A dict key: a non-empty string of the characters the grammar allows.

    >>> format_dict_key("lr"), format_dict_key("a b")
    ('lr', 'a\\\\ b')
    """
    if type(key) is not str and not isinstance(key, str):
        raise JobError(f"dict key {key!r} is a {type(key).__name__}, not a string")
    if not _DICT_KEY.match(key):
        raise JobError(
            f"dict key {key!r} cannot be written in Hydra's override grammar"
            " (allowed: letters, digits and _-/\\+.$%*@?|()[]{}:=, space, tab)"
        )
    if _TYPED.fullmatch(key):
        raise JobError(
            f"dict key {key!r} would be read as a {_typed_key_kind(key)} by Hydra's override "
            "grammar, which has no quoted dict keys"
        )
    return escape_special_characters(key)


def _typed_key_kind(key: str) -> str:
    word = key.lower()
    return "bool" if word in ("true", "false") else "null" if word == "null" else "number"


def _format_list(value: Any) -> str:
    return "[" + ", ".join([format_value(item) for item in value]) + "]"


def _format_dict(value: Dict[Any, Any]) -> str:
    items = [f"{format_dict_key(k)}: {format_value(v)}" for k, v in value.items()]
    return "{" + ", ".join(items) + "}"


_FORMATTERS: Dict[type, Callable[[Any], str]] = {
    str: format_string,
    int: str,
    float: format_float,
    bool: lambda value: "True" if value else "False",  # as BasicSweeper writes them
    type(None): lambda value: "null",
    list: _format_list,
    tuple: _format_list,
    dict: _format_dict,
    raw: str,
}


_CONVERSIONS: Tuple[Tuple[type, Callable[[Any], Any]], ...] = (
    (int, int),
    (float, float),
    (str, str.__str__),
    (list, list),
    (tuple, list),
    (dict, dict),
)


def format_value(value: Any) -> str:
    """``value`` written in Hydra's override grammar; :class:`JobError` if it cannot be."""
    formatter = _FORMATTERS.get(type(value))
    if formatter is not None:
        return formatter(value)
    if getattr(value, "raw_override", False):
        return str.__str__(value)
    # Subclasses of the supported types (an IntEnum is an int, numpy.float64 a float).
    for kind, convert in _CONVERSIONS:
        if isinstance(value, kind):
            return _FORMATTERS[kind](convert(value))
    if value is DELETE:
        raise JobError('DELETE can only be the value of a key written with ~: {"~key": DELETE}')
    raise JobError(
        f"value {value!r} of type {type(value).__name__} is not supported "
        "(use None, bool, int, float, str, or lists, tuples and dicts of them)"
    )
