"""The values with a meaning of their own in a job: :class:`raw` text and :data:`DELETE`.

    >>> import pickle
    >>> pickle.loads(pickle.dumps(DELETE)) is DELETE, isinstance(raw("${a}"), str)
    (True, True)

They live here, apart from :mod:`.utils` (which re-exports them), so that the core can
use them without the helpers; this module imports nothing but ``typing``.
"""

from typing import Any


class raw(str):
    """A value written into the override as it is, in Hydra's override grammar.

    A plain string is always kept literal (a ``${`` in it is escaped); a ``raw``
    string is not, so it can hold an interpolation or a grammar function::

        {"model.width": raw("${base.width}"), "+seed": raw("int(3.0)")}
    """

    __slots__ = ()

    #: Marks the class, whichever copy of it: on Python 3.9, Hydra's plugin discovery
    #: executes a module again, which can make a second ``raw`` class.
    raw_override = True


class _Delete:
    """The type of :data:`DELETE`: one instance, which pickles to itself."""

    __slots__ = ()
    _instance: Any = None

    def __new__(cls) -> "_Delete":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return "DELETE"

    def __reduce__(self) -> str:
        return "DELETE"


#: The value of a ``~key`` that deletes the key whatever its value: ``{"~db.port": DELETE}``
#: is written ``~db.port``, in every Hydra version. (``{"~db.port": 3306}`` deletes the key
#: only if it is 3306, and fails the job otherwise; ``{"~db.port": None}`` is written
#: ``~db.port=null``, which Hydra 1.2 and 1.3 read as "whatever the value", Hydra 1.4 as
#: "only if it is null".)
DELETE = _Delete()
