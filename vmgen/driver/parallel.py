"""A second core for a large header: run one function in a forked child.

vmgen's run on a large header is a parse, a lowering and four backends, all in
pure Python; with two cores, the pipeline parses and lowers half of the device
states in a child (see vmgen.driver.pipeline) and renders the C in a child while the
parent renders the rest.  A fork, not a pool: the child starts with the parent's
memory (the text, the IR) at no cost, and sends back only its result, pickled.

Whatever goes wrong in the child (an exception, a crash, a kill) comes back as
None, and the caller then does the work itself: the child can make a run
faster, never different.
"""

from __future__ import annotations

import os
import pickle
import re
import signal
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Generic, TypeVar

T = TypeVar("T")


def cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def second_process(jobs: int) -> Iterator[bool]:
    """Whether this run may use a second process for the block.  `jobs` is the
    user's --jobs: 1 never, 2 or more always (where the platform forks); 0 when
    there is a second CPU and no parallel make counts the jobs.  Under `make -j`
    the build's jobs are make's to count: a job slot is taken from make's
    jobserver for the block if one is free (GNU make 4.4's named pipe, which
    every recipe can reach), else the run keeps to one process (make 4.3 hands
    its jobserver only to recursive makes)."""
    if jobs == 1 or not hasattr(os, "fork"):
        yield False
        return
    auth = _jobserver() if jobs == 0 else None
    if auth is None:
        yield jobs > 1 or cpus() >= 2
        return
    if not auth.startswith("fifo:"):
        yield False
        return
    try:
        fd = os.open(auth[len("fifo:"):], os.O_RDWR | os.O_NONBLOCK)
    except OSError:
        yield False
        return
    try:
        try:
            token = os.read(fd, 1)
        except BlockingIOError:
            token = b""
        try:
            yield bool(token)
        finally:
            if token:
                os.write(fd, token)  # the slot goes back to make
    finally:
        os.close(fd)


def _jobserver() -> str | None:
    """The jobserver of the make running this process (`--jobserver-auth=` of
    MAKEFLAGS: "fifo:PATH" or "R,W"), if any."""
    found = re.findall(r"--jobserver-(?:auth|fds)=(\S+)", os.environ.get("MAKEFLAGS", ""))
    return found[-1] if found else None


class Child(Generic[T]):
    """`fn()` running in a forked child; `result()` waits for it.

    The child writes its pickled result into an unnamed file made before the
    fork (in memory where Linux has memfd_create), not a pipe: it never waits
    for the parent to read, and the parent reads the result in one piece."""

    def __init__(self, fn: Callable[[], T]) -> None:
        self._file = _unnamed_file()
        try:
            pid = os.fork()
        except OSError:  # no process to be had (a limit): the caller does the work
            os.close(self._file)
            self._pid = -1
            return
        if pid == 0:  # the child: never returns into the caller
            status = 1
            try:
                try:
                    data = pickle.dumps(fn(), protocol=pickle.HIGHEST_PROTOCOL)
                except BaseException:  # the parent does the work instead
                    data = b""
                view = memoryview(data)
                while view:
                    view = view[os.write(self._file, view):]
                status = 0
            finally:
                os._exit(status)
        self._pid = pid

    def cancel(self) -> None:
        """Stop the child (its result is not wanted) and reap it."""
        if self._pid < 0:
            return
        with suppress(ProcessLookupError):
            os.kill(self._pid, signal.SIGKILL)
        os.waitpid(self._pid, 0)
        os.close(self._file)

    def result(self) -> T | None:
        """The child's result; None if it failed.  Reaps the child."""
        if self._pid < 0:
            return None
        try:
            _, status = os.waitpid(self._pid, 0)
            size = os.lseek(self._file, 0, os.SEEK_END)
            data = os.pread(self._file, size, 0) if status == 0 else b""
        finally:
            os.close(self._file)
        if len(data) != size or not data:
            return None
        try:
            value: T = pickle.loads(data)
        except Exception:  # a cut-off result: do the work here
            return None
        return value


def _unnamed_file() -> int:
    """A descriptor of a new file that no name reaches."""
    if hasattr(os, "memfd_create"):
        try:
            return os.memfd_create("vmgen-result", os.MFD_CLOEXEC)
        except OSError:
            pass
    with tempfile.TemporaryFile() as handle:
        return os.dup(handle.fileno())
