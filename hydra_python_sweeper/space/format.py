"""Jobs written as override strings: their shapes, the writers compiled per shape, the Formatter.

A job is pairs of keys and values (a dict, or ``(key, value)`` pairs). What its keys alone
decide (which pairs are kept, their ``key=`` prefixes) is its *shape*, computed once per
distinct tuple of keys; each value is written by :func:`.values.format_value`. A shape met
often gets functions compiled for it that write a job, or a whole chunk of jobs, in one
expression. A sweep owns one :class:`Formatter`, which holds the caches::

    >>> formatter = Formatter()
    >>> formatter.job({"lr": 0.1, "+name": "my run"})[1]
    ['lr=0.1', "+name='my run'"]
"""

import itertools
from collections.abc import Mapping
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Set, Tuple

from hydra.core.override_parser.overrides_parser import OverridesParser

from hydra_python_sweeper.errors import JobError
from hydra_python_sweeper.space.markers import DELETE
from hydra_python_sweeper.space.values import format_string, format_value

# --- jobs ---------------------------------------------------------------------------------


class Shape(NamedTuple):
    """What a job's keys alone decide, computed once per distinct tuple of keys.

    ``keys``: every pair's key, as written; ``bares``: the bare keys of the pairs kept;
    ``prefixes``: their ``"key="``; ``keep``: which pairs are kept (``None``: all; a
    repeated key keeps its first pair); ``uid``: a number of its own in the process, for
    cache keys.
    """

    keys: Tuple[str, ...]
    bares: Tuple[str, ...]
    prefixes: Tuple[str, ...]
    keep: Optional[Tuple[bool, ...]]
    uid: int


#: A job after formatting: its shape, the overrides of the pairs it keeps, and the values
#: of all its pairs (aligned with ``shape.keys``, for filters).
FormattedJob = Tuple[Shape, List[str], Iterable[Any]]
Writer = Callable[[Iterable[Any]], List[str]]
ChunkWriter = Callable[[List[Any], List[List[str]]], None]

_uids = itertools.count()
#: Shapes (and their compiled writers) a formatter keeps; the pipeline's other caches of
#: things per shape (merge plans) keep as many.
CACHE_SIZE = 4096
# Overrides of ints and strs a formatter keeps, in all its caches: each costs some 170 bytes,
# so a sweep whose values never repeat (a seed, a job's name) grew by 11 MiB up to 1 << 16;
# 4,096 hold a grid's repeated values.
_REMEMBERED = 1 << 12
_COMPILE_AFTER = 8  # jobs of a shape written before its writers are compiled


def bare_key(key: str) -> str:
    """The key without its ``+``, ``++`` or ``~`` prefix: what precedence compares.

    >>> bare_key("++db.user"), bare_key("~extra"), bare_key("db@backup")
    ('db.user', 'extra', 'db@backup')
    """
    return key.lstrip("+~")


def check_key(key: Any) -> None:
    """:class:`JobError` unless ``key`` is an override key in Hydra's grammar, as written.

    >>> check_key("+db@backup.port")
    >>> check_key("+a b")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hydra_python_sweeper.errors.JobError: key '+a b' is not an override key ...
    """
    if type(key) is not str or not key:
        raise JobError(f"key {key!r} is not a non-empty string")
    try:
        parsed = OverridesParser.create().parse_override(f"{key}=0").get_key_element()
    except Exception as error:
        parsed, reason = None, str(error).strip().splitlines()[0]
    else:
        reason = f"Hydra reads it as {parsed!r}"
    if parsed != key:
        raise JobError(
            f"key {key!r} is not an override key in Hydra's grammar ({reason}): a key is a "
            "dotted path of names (a-z, 0-9, _, -), with an optional +, ++ or ~ prefix and "
            "an optional @package",
            key,
        )
    if len(key.encode()) > NAME_MAX:
        raise JobError(
            f"key {key[:40]}... is {len(key.encode())} bytes long: Hydra names files and "
            f"directories after keys (config groups, ${{hydra.job.override_dirname}}), and "
            f"a name has at most {NAME_MAX} bytes",
            key,
        )


#: The longest file name most file systems take, in bytes.
NAME_MAX = 255


def job_shape(keys: Tuple[Any, ...], checked: Optional[Set[str]] = None) -> Shape:
    """The shape of a job with these keys; :class:`JobError` for a bad key (``checked``:
    keys known to be good, which it adds to).

    >>> job_shape(("+a", "b", "a")).bares, job_shape(("+a", "b", "a")).keep
    (('a', 'b'), (True, True, False))
    """
    bares: Dict[str, str] = {}
    keep = []
    for key in keys:
        if checked is None or key not in checked:
            check_key(key)
            if checked is not None:
                checked.add(key)
        bare = bare_key(key)
        keep.append(bare not in bares)
        bares.setdefault(bare, f"{key}=")
    kept = None if all(keep) else tuple(keep)
    return Shape(tuple(keys), tuple(bares), tuple(bares.values()), kept, next(_uids))


def keys_and_values(job: Any) -> Tuple[Tuple[Any, ...], Iterable[Any]]:
    """A job's keys and values; :class:`JobError` if it is not a mapping or pairs.

    >>> keys_and_values([("a", 1), ("b", 2)])
    (('a', 'b'), [1, 2])
    """
    if type(job) is dict:
        return tuple(job), job.values()
    if isinstance(job, Mapping):
        return tuple(job.keys()), list(job.values())
    if isinstance(job, (str, bytes)) or not isinstance(job, Iterable):
        raise JobError(f"a job must be a mapping or an iterable of (key, value) pairs, got {job!r}")
    keys, values = [], []
    for pair in job:
        try:
            key, value = pair
        except (TypeError, ValueError):
            raise JobError(f"{pair!r} is not a (key, value) pair") from None
        keys.append(key)
        values.append(value)
    return tuple(keys), values


def format_values(shape: Shape, values: Iterable[Any]) -> List[str]:
    """The overrides of the pairs ``shape`` keeps, given all the job's values.

    >>> format_values(job_shape(("a", "+b", "+a")), [1, "x/y", 3])
    ['a=1', '+b=x/y']
    """
    kept = values if shape.keep is None else itertools.compress(values, shape.keep)
    overrides = []
    for prefix, value in zip(shape.prefixes, kept):
        if value is DELETE and prefix[0] == "~":
            overrides.append(prefix[:-1])  # ~key: delete it, whatever its value
        else:
            overrides.append(prefix + format_value(value))
    return overrides


def _items(shape: Shape) -> str:
    """The source of a list display of the overrides of the values ``v0``, ``v1``... (the
    kept ones), given prefixes ``p0``, ``p1``... and caches ``c0``, ``c1``...: ints and
    strs from their cache (or written by ``remember``, which may cache them), finite floats
    inline, the others (and ``DELETE`` under a ``~`` key) as :func:`format_values` writes
    them."""
    keep = shape.keep or (True,) * len(shape.keys)
    kept = [f"v{i}" for i, kept in enumerate(keep) if kept]
    items = []
    for i, (v, prefix) in enumerate(zip(kept, shape.prefixes)):
        delete = f"p{i}[:-1] if {v} is DELETE else " if prefix[0] == "~" else ""
        items.append(
            f"(c{i}.get({v}) or remember(c{i}, p{i}, {v})) if (t := type({v})) is int "
            "or t is str "
            f'else f"{{p{i}}}{{{v}!r}}" if t is float and {v} - {v} == 0 '
            f"else {delete}p{i} + format_value({v})"
        )
    return f"[{', '.join(items)}]"


def write_override(cache: Dict[Any, str], prefix: str, value: Any) -> str:
    """The override of an int or a str ``value`` after ``prefix``; caches nothing (see
    :meth:`Formatter.remember`, which does).

    >>> write_override({}, "+seed=", 3), write_override({}, "name=", "a b")
    ('+seed=3', "name='a b'")
    """
    return f"{prefix}{value}" if type(value) is int else prefix + format_string(value)


def _compile(
    shape: Shape, body: str, caches: Optional[List[Dict[Any, str]]], remember: Optional[Any]
) -> Any:
    """Execute the source of a function ``write`` for ``shape``; its keys, prefixes and
    caches reach it as default arguments, never as source text."""
    count = len(shape.prefixes)
    defaults = "".join(f", p{i}=prefixes[{i}], c{i}=caches[{i}]" for i in range(count))
    names = ", ".join(f"v{i}" for i in range(len(shape.keys)))
    source = body.format(
        defaults=defaults, names=f"{names}," if names else "_", items=_items(shape)
    )
    namespace: Dict[str, Any] = {
        "prefixes": shape.prefixes,
        "keys": shape.keys,
        "caches": [{} for _ in range(count)] if caches is None else caches,
        "remember": remember or write_override,
        "format_value": format_value,
        "DELETE": DELETE,
        "JobError": JobError,
        "same_keys": same_keys,
    }
    exec(source, namespace)
    return namespace["write"]


_WRITER = """
def write(values{defaults}):
    {names} = values
    return {items}
"""

_CHUNK_WRITER = """
def write(jobs, out, keys=keys, values=dict.values{defaults}):
    if same_keys(jobs, keys):
        try:
            out += [{items} for {names} in map(values, jobs)]  # all of this shape, at once
            return
        except JobError:
            pass  # a value that cannot be written: the loop below stops at its job
    append = out.append
    for job in jobs:
        if type(job) is not dict or tuple(job) != keys:
            return
        {names} = job.values()
        append({items})
"""


def same_keys(jobs: List[Any], keys: Tuple[str, ...]) -> bool:
    """Whether every one of ``jobs`` is a dict with exactly ``keys``, in that order: by
    C-level passes over the chunk's columns of keys.

    >>> same_keys([{"a": 1, "b": 2}, {"a": 3, "b": 4}], ("a", "b"))
    True
    >>> same_keys([{"a": 1, "b": 2}, {"b": 3, "a": 4}], ("a", "b"))
    False
    """
    count = len(jobs)
    if list(map(type, jobs)).count(dict) != count:
        return False
    if list(map(len, jobs)).count(len(keys)) != count:
        return False
    return all(column.count(key) == count for column, key in zip(zip(*jobs), keys))


def compile_formatter(
    shape: Shape, caches: Optional[List[Dict[Any, str]]] = None, remember: Any = None
) -> Writer:
    """A function equal to ``format_values(shape, values)``, compiled for this shape.

    Like the methods :mod:`dataclasses` writes, its source is generated: it unpacks the
    values and builds the list in one expression, with no loop. ``caches`` (one dict per
    kept key) hold the overrides of ints and strs already written; ``remember(cache, prefix,
    value)`` writes one that is not there (by default :func:`write_override`).

    >>> write = compile_formatter(job_shape(("a", "+b", "+a")))
    >>> write([1, "x/y", 3])
    ['a=1', '+b=x/y']
    """
    write: Writer = _compile(shape, _WRITER, caches, remember)
    return write


def compile_chunk_formatter(
    shape: Shape, caches: Optional[List[Dict[Any, str]]] = None, remember: Any = None
) -> ChunkWriter:
    """A function that appends to ``out`` the overrides of the leading jobs of ``jobs``
    that are dicts with exactly ``shape.keys``, in that order; it stops at the first job
    that is not (``caches`` and ``remember``: see :func:`compile_formatter`).

    >>> write, out = compile_chunk_formatter(job_shape(("a", "+b"))), []
    >>> write([{"a": 1, "+b": "x"}, {"a": 2, "+b": None}, {"+b": 3, "a": 3}], out)
    >>> out
    [['a=1', '+b=x'], ['a=2', '+b=null']]
    """
    write: ChunkWriter = _compile(shape, _CHUNK_WRITER, caches, remember)
    return write


def failing_key(shape: Shape, values: Iterable[Any]) -> Optional[str]:
    """The key of the first pair ``shape`` keeps whose value cannot be written."""
    pairs: Iterable[Tuple[str, Any]] = zip(shape.keys, values)
    if shape.keep is not None:
        pairs = itertools.compress(pairs, shape.keep)
    for key, value in pairs:
        if value is DELETE and key[0] == "~":
            continue
        try:
            format_value(value)
        except JobError:
            return key
    return None


class Formatter:
    """Writes a sweep's jobs as override strings. A sweep creates one: it owns the caches
    (the jobs' shapes, the writers compiled for them, the overrides of ints and strs they
    already wrote), each bounded, so that nothing is shared between sweeps and memory stays flat.

    >>> formatter = Formatter()
    >>> formatter.job({"lr": 0.1, "+tag": "a,b", "+lr": 2})[1]
    ['lr=0.1', "+tag='a,b'"]
    >>> formatter.chunk([{"a": i, "b": "x y"} for i in range(2)], [])
    [['a=0', "b='x y'"], ['a=1', "b='x y'"]]
    """

    def __init__(self) -> None:
        self.shapes: Dict[Tuple[Any, ...], Shape] = {}
        self.writers: Dict[int, Writer] = {}  # by shape uid
        self.chunk_writers: Dict[int, ChunkWriter] = {}
        self.uses: Dict[int, int] = {}  # jobs written, by shape not compiled yet
        self.checked: Set[str] = set()  # keys known to be in the grammar
        self.remembered = 0  # overrides kept in the compiled writers' caches

    def shape(self, keys: Tuple[Any, ...]) -> Shape:
        """The shape of a job with these keys (see :func:`job_shape`), cached."""
        try:
            return self.shapes[keys]
        except (KeyError, TypeError):
            pass
        shape = job_shape(keys, self.checked)
        if len(self.shapes) >= CACHE_SIZE:
            for cache in (self.shapes, self.writers, self.chunk_writers, self.uses):
                cache.clear()
            self.checked.clear()
            self.remembered = 0  # the writers, and their caches, are gone
        self.shapes[keys] = shape
        return shape

    def job(self, job: Any) -> FormattedJob:
        """One job (a mapping or ``(key, value)`` pairs) as its shape and overrides;
        :class:`JobError`, naming the key, if it cannot be written."""
        keys, values = keys_and_values(job)
        shape = self.shape(keys)
        try:
            write = self.writers.get(shape.uid) or self._writer(shape)
            overrides = write(values)
        except JobError as error:
            raise JobError(error.reason, failing_key(shape, values)) from None
        return shape, overrides, values

    def chunk(self, jobs: List[Any], out: List[List[str]]) -> List[List[str]]:
        """Append the overrides of each of ``jobs`` to ``out``, and return it. The jobs of a
        shape seen often are written by its compiled chunk writer, a run at a time. On a
        :class:`JobError`, ``out`` holds the jobs before the failing one."""
        first = len(out)
        position, total = 0, len(jobs)
        while position < total:
            job = jobs[position]
            if type(job) is dict:
                write = self.chunk_writers.get(self.shape(tuple(job)).uid)
                if write is not None:
                    try:
                        write(jobs[position:] if position else jobs, out)
                    except JobError:
                        self.job(jobs[len(out) - first])  # raises it again, naming the key
                        raise
                    position = len(out) - first
                    continue
            out.append(self.job(job)[1])
            position += 1
        return out

    def override(self, key: str, override: str, value: Any) -> FormattedJob:
        """A job of one override already written (a command-line value, for instance).

        >>> Formatter().override("+a", "+a=1", 1)[1]
        ['+a=1']
        """
        return self.shape((key,)), [override], (value,)

    def remember(self, cache: Dict[Any, str], prefix: str, value: Any) -> str:
        """:func:`write_override`, kept in ``cache`` while the formatter keeps fewer than
        :data:`_REMEMBERED` overrides (an int or a str written once is then looked up)."""
        written = write_override(cache, prefix, value)
        if self.remembered < _REMEMBERED:
            cache[value] = written
            self.remembered += 1
        return written

    def _writer(self, shape: Shape) -> Writer:
        """The writer of ``shape``'s jobs: compiled once the shape has been seen often."""
        uses = self.uses.get(shape.uid, 0) + 1
        if uses < _COMPILE_AFTER:
            self.uses[shape.uid] = uses
            return lambda values: format_values(shape, values)
        self.uses.pop(shape.uid, None)
        caches: List[Dict[Any, str]] = [{} for _ in shape.prefixes]  # for both writers
        write = self.writers[shape.uid] = compile_formatter(shape, caches, self.remember)
        self.chunk_writers[shape.uid] = compile_chunk_formatter(shape, caches, self.remember)
        return write


def format_job(job: Any) -> FormattedJob:
    """One job, written by a formatter of its own (see :meth:`Formatter.job`).

    >>> shape, overrides, _ = format_job({"lr": 0.1, "+tag": "a,b", "+lr": 2})
    >>> shape.bares, overrides
    (('lr', 'tag'), ['lr=0.1', "+tag='a,b'"])
    """
    return Formatter().job(job)
