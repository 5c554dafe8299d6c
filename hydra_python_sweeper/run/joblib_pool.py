"""joblib's worker pool, asked for by several batches in flight at once.

hydra-joblib-launcher runs each batch through ``joblib.Parallel``, which takes joblib's one
reusable pool of this process. joblib makes a new pool and *then* gives it its temporary
folder's manager; a second batch asking in between is handed the half-made pool and fails
before any of its jobs starts (``AttributeError: 'MemmappingExecutor' object has no
attribute '_temp_folder_manager'``, joblib issue #1794). With ``max_in_flight`` above 1 the
sweeper's launch threads do ask at once: :func:`one_at_a_time` makes joblib's factory take
its turn, so each batch is handed a whole pool. Only the factory is held, for the moment
it takes (the batches' jobs still run together), and it does what it did.

    >>> import joblib.executor
    >>> one_at_a_time()
    >>> one_at_a_time()  # once is enough: the factory is wrapped once
    >>> hasattr(joblib.executor.MemmappingExecutor.get_memmapping_executor, "__wrapped__")
    True
"""

import functools
import threading
from typing import Any

_LOCK = threading.Lock()


def one_at_a_time() -> None:
    """Make joblib's reusable pool factory take one caller at a time (once a process);
    without joblib installed, nothing to do."""
    try:
        from joblib.executor import MemmappingExecutor
    except ImportError:  # pragma: no cover - joblib's launcher brings joblib
        return
    with _LOCK:
        factory = MemmappingExecutor.get_memmapping_executor.__func__  # a classmethod's
        if hasattr(factory, "__wrapped__"):
            return
        turn = threading.Lock()

        @functools.wraps(factory)
        def in_turn(cls: Any, *args: Any, **kwargs: Any) -> Any:
            with turn:
                return factory(cls, *args, **kwargs)

        MemmappingExecutor.get_memmapping_executor = classmethod(in_turn)


def uses_joblib(launcher: Any) -> bool:
    """Whether ``launcher`` is hydra-joblib-launcher's."""
    return type(launcher).__module__.startswith("hydra_plugins.hydra_joblib_launcher")
