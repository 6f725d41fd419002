"""Writing generated files: atomically, and only when their text changed.

A file whose text is unchanged is not touched (its mtime stays, so make and
ninja rebuild nothing).  A changed file is written to a temporary file in the
same folder and renamed over the old one, so a killed run leaves every output
either old or new, never truncated.  Generation itself never writes: it
returns texts, and this module is the only place that touches outputs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping

TYPE_CHECKING = False  # (typing and pathlib are not imported at start-up: vmgen stream)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import BinaryIO


def write_if_changed(path: Path, text: str) -> bool:
    """Write `text` to `path` unless it already holds exactly that; True if written."""
    return write_bytes_if_changed(path, text.encode("utf-8"))


def write_bytes_if_changed(path: Path, data: bytes) -> bool:
    """Write `data` to `path` unless it already holds exactly that; True if written."""
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temporary(str(path.parent), path.name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return True


def write_with(path: str | os.PathLike[str], fill: Callable[[BinaryIO], None],
               check: Callable[[Path], None] | None = None) -> None:
    """Write `path` atomically (temporary file + rename) with `fill`, given the temporary
    file opened unbuffered: if `fill` raises, or `check` (given the complete temporary
    file) raises, `path` is left as it was and the temporary file is removed."""
    target = os.fspath(path)
    folder = os.path.dirname(target) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = _temporary(folder, os.path.basename(target))
    try:
        with os.fdopen(fd, "wb", buffering=0) as f:
            fill(f)
        if check is not None:
            from pathlib import Path

            check(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_all(outdir: Path, files: Mapping[str, str]) -> list[Path]:
    """Write every file of `files` (name -> text) under `outdir`; the paths written."""
    written = []
    for name, text in files.items():
        path = outdir / name
        if write_if_changed(path, text):
            written.append(path)
    return written


def _temporary(folder: str, name: str) -> tuple[int, str]:
    """A new file of this process's own in `folder`, ``.NAME.RANDOM.tmp``, mode 0600 (what
    tempfile.mkstemp makes; importing tempfile, and random with it, cost `vmgen stream`
    about 5 ms of CPU at start-up)."""
    flags = (os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(tmp, flags, 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{folder}: no free name for a temporary file")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
