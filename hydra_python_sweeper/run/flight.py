"""Batches in flight: up to ``limit`` ``launcher.launch()`` calls at once.

Hydra's launchers return only when their whole batch has ended, so one slow job idles every
other worker of its batch. :func:`in_flight` keeps ``limit`` batches launched, each on a
worker thread of its own, and draws the next batch from the stream the moment one returns.
Everything that touches the stream (drawing, validating, numbering) stays on the caller's
thread: ``prepare`` runs there, just before each launch.

    >>> import time
    >>> def work(n):
    ...     time.sleep(0.01 * n)
    ...     return n * n
    >>> flight = Flight(limit=3)
    >>> sorted(result for _, result in flight.run([3, 1, 2], work))
    [1, 4, 9]
"""

import queue
import threading
from typing import Any, Callable, Iterable, Iterator, Optional, Tuple, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Flight:
    """Runs work on items with at most ``limit`` running at once; see the module's docstring.

    ``stop()`` (from the caller's thread, between results) draws no new item; the items in
    flight still end, and their results are still yielded. With ``limit`` 1, the work runs
    on the caller's own thread, as a plain loop would.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.stopped = False
        self.running = 0

    def stop(self) -> None:
        self.stopped = True

    def run(
        self,
        items: Iterable[T],
        work: Callable[[T], R],
        prepare: Optional[Callable[[T], None]] = None,
    ) -> Iterator[Tuple[T, R]]:
        """Yield ``(item, work(item))`` as each ends; ``work``'s exception is raised here,
        once the items in flight with it have ended and been yielded. An exception of the
        stream (or of ``prepare``) is raised the same way, after the items in flight."""
        if self.limit == 1:
            iterator = iter(items)
            while not self.stopped:  # stopped: not one more item is drawn
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                if prepare is not None:
                    prepare(item)
                yield item, work(item)
            return
        done: queue.Queue[Tuple[T, bool, Any]] = queue.Queue()
        iterator = iter(items)
        error: Optional[BaseException] = None
        while True:
            while error is None and not self.stopped and self.running < self.limit:
                try:
                    item = next(iterator)
                    if prepare is not None:
                        prepare(item)
                except StopIteration:
                    self.stopped = True
                    break
                except Exception as exc:  # yield what is in flight, then raise it
                    error = exc
                    break
                self._start(item, work, done)
            if not self.running:
                break
            item, ok, value = _get(done)
            self.running -= 1
            if ok:
                yield item, value
            elif error is None:
                error = value
        if error is not None:
            raise error

    def _start(
        self, item: T, work: Callable[[T], R], done: "queue.Queue[Tuple[T, bool, Any]]"
    ) -> None:
        def target() -> None:
            try:
                done.put((item, True, work(item)))
            except BaseException as exc:
                done.put((item, False, exc))

        # Daemon threads: Ctrl-C ends the process at once, without waiting for the launches.
        threading.Thread(target=target, name="hydra-python-sweeper-launch", daemon=True).start()
        self.running += 1


def _get(done: "queue.Queue[Any]") -> Any:
    """The next result; a short timeout keeps Ctrl-C responsive on every platform."""
    while True:
        try:
            return done.get(timeout=0.5)
        except queue.Empty:
            continue
