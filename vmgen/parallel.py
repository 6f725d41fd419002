"""A second core for a large header: run one function in a forked child.

vmgen's run on a large header is a parse, a lowering and four backends, all in
pure Python; with two cores, the pipeline parses and lowers half of the device
states in a child (see vmgen.pipeline) and renders the C in a child while the
parent renders the rest.  A fork, not a pool: the child starts with the parent's
memory (the text, the IR) at no cost, and sends back only its result, pickled,
through a pipe.

Whatever goes wrong in the child (an exception, a crash, a kill) comes back as
None, and the caller then does the work itself: the child can make a run
faster, never different.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


def cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def available(jobs: int) -> bool:
    """Whether a run may use a second process: `jobs` is the user's --jobs (0:
    as many as there are CPUs), and the platform must fork."""
    if jobs == 1 or not hasattr(os, "fork"):
        return False
    return (jobs if jobs > 1 else cpus()) >= 2


class Child(Generic[T]):
    """`fn()` running in a forked child; `result()` waits for it."""

    def __init__(self, fn: Callable[[], T]) -> None:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns into the caller
            status = 1
            try:
                os.close(read)
                try:
                    data = pickle.dumps(fn(), protocol=pickle.HIGHEST_PROTOCOL)
                except BaseException:  # the parent does the work instead
                    data = b""
                with os.fdopen(write, "wb") as out:
                    out.write(data)
                status = 0
            finally:
                os._exit(status)
        os.close(write)
        self._pid = pid
        self._read = read

    def result(self) -> T | None:
        """The child's result; None if it failed.  Reaps the child."""
        try:
            with os.fdopen(self._read, "rb") as f:
                data = f.read()
        finally:
            os.waitpid(self._pid, 0)
        if not data:
            return None
        try:
            value: T = pickle.loads(data)
        except Exception:  # a cut-off result: do the work here
            return None
        return value
