"""Real QEMU (qemu-system-x86_64, Debian's 7.2) for the stream tests: start a paused VM,
save its migration stream, load a stream into a fresh VM.

Every VM gets a private QMP unix socket in its own temporary folder, TCG (no KVM),
``-S -display none -nodefaults -rtc clock=vm`` (a loaded stream then saves again byte
for byte), a timeout on every wait, and is ended by its PID (kill, wait) in a
``finally``.  Saving uses QMP ``migrate`` to ``exec:cat > TMP && mv TMP FILE``: the
rename happens when ``cat`` has written everything, so the file appears complete or
not at all (``query-migrate`` saying ``completed`` does not promise the child
flushed).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

QEMU = "qemu-system-x86_64"
TIMEOUT = 60.0


class QemuError(Exception):
    pass


def qemu_path() -> str | None:
    return shutil.which(QEMU)


class Qmp:
    def __init__(self, path: Path, deadline: float, proc: subprocess.Popen[bytes]) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        while True:
            try:
                self.sock.connect(str(path))
                break
            except OSError:
                if proc.poll() is not None:
                    raise QemuError("QEMU exited before its monitor came up") from None
                if time.monotonic() > deadline:
                    raise QemuError("QEMU's monitor did not come up in time") from None
                time.sleep(0.05)
        self.sock.settimeout(TIMEOUT)
        self.buf = b""
        self._message()  # the greeting
        self.command("qmp_capabilities")

    def _message(self) -> dict[str, Any]:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise QemuError("QEMU closed its monitor")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        value: dict[str, Any] = json.loads(line)
        return value

    def command(self, name: str, **arguments: Any) -> Any:
        msg: dict[str, Any] = {"execute": name}
        if arguments:
            msg["arguments"] = arguments
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._message()
            if "event" in reply:
                continue
            if "error" in reply:
                raise QemuError(f"{name}: {reply['error'].get('desc', reply['error'])}")
            return reply.get("return")

    def close(self) -> None:
        self.sock.close()


class Vm:
    """A running, paused QEMU; use as a context manager (it is killed on exit)."""

    def __init__(self, machine: str = "pc", args: Sequence[str] = (),
                 incoming: Path | None = None, timeout: float = TIMEOUT,
                 capabilities: Sequence[str] = ()) -> None:
        path = qemu_path()
        if path is None:
            raise QemuError(f"{QEMU} not found (Debian package qemu-system-x86)")
        self.dir = Path(tempfile.mkdtemp(prefix="vmgen-qemu-"))
        self.timeout = timeout
        sock = self.dir / "qmp.sock"
        cmd = [path, "-M", machine, "-accel", "tcg", "-S", "-display", "none", "-nodefaults",
               "-rtc", "clock=vm", "-qmp", f"unix:{sock},server=on,wait=off", *args]
        source = None if incoming is None else f"exec:cat {shlex.quote(str(incoming))}"
        if source is not None:
            # with migration capabilities, they are set before the stream is read
            cmd += ["-incoming", "defer" if capabilities else source]
        self.stderr = open(self.dir / "stderr", "w+b")  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.stderr)
        self.qmp: Qmp | None = None
        try:
            self.qmp = Qmp(sock, time.monotonic() + timeout, self.proc)
        except (OSError, QemuError, ValueError) as exc:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
            message = f"QEMU did not start ({exc}): {self.errors()}"
            self.close()
            raise QemuError(message) from None
        except BaseException:
            self.close()
            raise
        if capabilities:
            try:
                self.monitor.command("migrate-set-capabilities", capabilities=[
                    {"capability": c, "state": True} for c in capabilities])
                if source is not None:
                    self.monitor.command("migrate-incoming", uri=source)
            except BaseException:
                self.close()
                raise

    def __enter__(self) -> Vm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def errors(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace").strip()

    def close(self) -> None:
        try:
            if self.qmp is not None:
                self.qmp.close()
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=self.timeout)
            self.stderr.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def monitor(self) -> Qmp:
        assert self.qmp is not None
        return self.qmp

    def _wait(self, what: str, done: Any) -> Any:
        deadline = time.monotonic() + self.timeout
        while True:
            if self.proc.poll() is not None:
                raise QemuError(f"QEMU exited ({self.proc.returncode}) while {what}: "
                                f"{self.errors()}")
            try:
                result = done()
            except (OSError, QemuError) as exc:
                if self.proc.wait(timeout=5) is not None:
                    raise QemuError(f"QEMU exited ({self.proc.returncode}) while {what}: "
                                    f"{self.errors()}") from None
                raise QemuError(f"{what}: {exc}") from None
            if result:
                return result
            if time.monotonic() > deadline:
                raise QemuError(f"timed out while {what}")
            time.sleep(0.05)

    def save(self, path: Path) -> bytes:
        """Migrate to `path` (written by `cat`, then renamed into place); its bytes."""
        tmp = path.with_name(f".{path.name}.part")
        self.monitor.command("migrate", uri=f"exec:cat > {shlex.quote(str(tmp))} && "
                         f"mv {shlex.quote(str(tmp))} {shlex.quote(str(path))}")

        def finished() -> bool:
            status = self.monitor.command("query-migrate").get("status")
            if status == "failed":
                raise QemuError(f"migration failed: {self.monitor.command('query-migrate')}")
            return bool(status == "completed" and path.exists())

        self._wait("saving a stream", finished)
        return path.read_bytes()

    def wait_loaded(self) -> str:
        """Wait until an incoming stream is loaded; the run state it leaves."""
        def loaded() -> str | None:
            status = self.monitor.command("query-status")["status"]
            return None if status == "inmigrate" else str(status)

        status: str = self._wait("loading a stream", loaded)
        return status


def save_stream(path: Path, machine: str = "pc", args: Sequence[str] = (),
                capabilities: Sequence[str] = ()) -> bytes:
    """Save a fresh paused VM to `path` (with these migration capabilities on)."""
    with Vm(machine, args, capabilities=capabilities) as vm:
        return vm.save(path)


def dump_vmstate(path: Path, machine: str = "pc") -> None:
    """QEMU's -dump-vmstate output for `machine` (every device's VMState description)."""
    binary = qemu_path()
    if binary is None:
        raise QemuError(f"{QEMU} not found")
    proc = subprocess.run([binary, "-M", machine, "-accel", "tcg", "-display", "none",
                           "-nodefaults", "-dump-vmstate", str(path)],
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)
    if proc.returncode != 0 or not path.exists():
        raise QemuError(f"-dump-vmstate failed: {proc.stderr.strip()}")


def load_and_resave(stream: Path, out: Path, machine: str = "pc",
                    args: Sequence[str] = (), capabilities: Sequence[str] = ()) -> bytes:
    """Load `stream` into a fresh VM (QemuError with QEMU's message if it refuses it),
    then save that VM to `out`; the bytes saved."""
    with Vm(machine, args, incoming=stream, capabilities=capabilities) as vm:
        status = vm.wait_loaded()
        if status not in ("prelaunch", "paused"):
            raise QemuError(f"loaded into state '{status}': {vm.errors()}")
        return vm.save(out)


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="vmgen-stream-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def env_ci() -> bool:
    return bool(os.environ.get("CI"))
