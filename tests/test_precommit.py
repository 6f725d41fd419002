"""The hooks of .pre-commit-hooks.yaml, run by the real pre-commit framework.

This checkout (its working tree, tracked and new files) is committed into a
temporary git repository, which a scratch project uses as its hook repo; the
scratch project commits a device header and its generated files through
`git commit` with the hooks installed.  pre-commit's cache (the hook's virtualenv,
vmgen installed from the hook repo) lives in tmp.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import support

HISTORY = support.FIXTURES / "history"
ARGS = "[-I, include, -o, gen, include/watchdog.h]"


def _pre_commit() -> str:
    """The pre-commit command, or a skip (a failure in CI): it is a test dependency."""
    script = Path(sys.executable).parent / "pre-commit"
    if script.is_file():
        return str(script)
    message = "pre-commit is not installed in this venv (pip install pre-commit; test extras)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _git(cwd: Path, *args: str, env: dict[str, str]) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, f"git {' '.join(args)}\n{proc.stdout}{proc.stderr}"
    return proc.stdout


@dataclass
class HookRepo:
    path: Path
    rev: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HookRepo]:
    tmp = tmp_path_factory.mktemp("precommit")
    gitconfig = tmp / "gitconfig"
    gitconfig.write_text("[user]\n\tname = vmgen tests\n\temail = tests@vmgen.invalid\n"
                         "[init]\n\tdefaultBranch = main\n")
    env = {**os.environ, "GIT_CONFIG_GLOBAL": str(gitconfig), "GIT_CONFIG_NOSYSTEM": "1",
           "PRE_COMMIT_HOME": str(tmp / "cache"), "PRE_COMMIT_COLOR": "never"}
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "VIRTUAL_ENV"):
        env.pop(var, None)
    repo = tmp / "vmgen-hooks"
    files = _git(support.REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard",
                 env=env).split("\0")
    for name in files:
        src = support.REPO / name
        if name and src.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, repo / name)
    assert (repo / ".pre-commit-hooks.yaml").is_file()
    _git(repo, "init", "-q", env=env)
    _git(repo, "add", "-A", env=env)
    _git(repo, "commit", "-q", "-m", "vmgen under test", env=env)
    rev = _git(repo, "rev-parse", "HEAD", env=env).strip()
    yield HookRepo(repo, rev, env)


class Project:
    """A scratch git project whose commits run the vmgen hooks."""

    def __init__(self, tmp: Path, hooks: HookRepo) -> None:
        self.root = tmp / "device"
        self.env = hooks.env
        (self.root / "include").mkdir(parents=True)
        self.set_header("watchdog-v1.h")
        (self.root / ".pre-commit-config.yaml").write_text(
            "repos:\n"
            f"  - repo: {hooks.path}\n"
            f"    rev: {hooks.rev}\n"
            "    hooks:\n"
            f"      - id: vmgen\n        args: {ARGS}\n"
            f"      - id: vmgen-check\n        args: {ARGS}\n        verbose: true\n")
        self.git("init", "-q")
        proc = subprocess.run([_pre_commit(), "install"], cwd=self.root, env=self.env,
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    def git(self, *args: str) -> str:
        return _git(self.root, *args, env=self.env)

    def set_header(self, history: str, edit: tuple[str, str] | None = None) -> None:
        text = (HISTORY / history).read_text()
        if edit is not None:
            assert edit[0] in text
            text = text.replace(*edit)
        (self.root / "include" / "watchdog.h").write_text(text)

    def regenerate(self) -> None:
        proc = support.run_vmgen("generate", "-I", "include", "-o", "gen", "include/watchdog.h",
                                 cwd=self.root)
        assert proc.returncode == 0, proc.stderr

    def commit(self, message: str, skip: str = "") -> subprocess.CompletedProcess[str]:
        """`git add -A` and `git commit`, hooks and all (but the hook `skip`)."""
        self.git("add", "-A")
        env = {**self.env, "SKIP": skip}
        return subprocess.run(["git", "commit", "-m", message], cwd=self.root, env=env,
                              capture_output=True, text=True, check=False, timeout=600)


def _hook_lines(out: str) -> dict[str, str]:
    """pre-commit's verdict per hook: {'vmgen generate': 'Passed', ...}."""
    verdicts = {}
    for line in out.splitlines():
        for verdict in ("Passed", "Failed", "Skipped"):
            if line.endswith(verdict) and "..." in line:
                verdicts[line.split("...")[0].strip()] = verdict
    return verdicts


@pytest.fixture
def project(tmp_path: Path, hook_repo: HookRepo) -> Project:
    p = Project(tmp_path, hook_repo)
    p.regenerate()
    done = p.commit("watchdog, release 1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _hook_lines(done.stdout + done.stderr) == {"vmgen generate": "Passed",
                                                      "vmgen check": "Passed"}
    return p


def test_commit_with_fresh_outputs_passes(project: Project) -> None:
    assert project.git("status", "--porcelain") == ""
    assert "gen/watchdog.vmgen.json" in project.git("ls-files")


def test_header_changed_without_regenerating_fails_with_the_diff(project: Project) -> None:
    project.set_header("watchdog-v2.h")
    # vmgen-check alone (as in CI): the stale outputs, with their diff.
    done = project.commit("release 2, outputs forgotten", skip="vmgen")
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert _hook_lines(out) == {"vmgen generate": "Skipped", "vmgen check": "Failed"}
    assert "--- gen/watchdog-visit.c (on disk)" in out
    assert "+++ gen/watchdog-visit.c (vmgen generate)" in out
    assert any(line.startswith("+") and "last_kick" in line for line in out.splitlines())
    assert project.git("log", "--format=%s") == "watchdog, release 1\n"


def test_regenerating_hook_fixes_a_stale_commit(project: Project) -> None:
    project.set_header("watchdog-v2.h")
    done = project.commit("release 2, outputs forgotten")
    assert done.returncode != 0
    out = done.stdout + done.stderr
    # `vmgen` rewrote the outputs (so `vmgen check`, after it, sees them fresh).
    assert _hook_lines(out) == {"vmgen generate": "Failed", "vmgen check": "Passed"}
    assert "files were modified by this hook" in out
    assert "last_kick" in (project.root / "gen" / "watchdog-visit.c").read_text()
    # Adding them makes the commit pass (version 2 is a compatible change).
    done = project.commit("release 2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _hook_lines(done.stdout + done.stderr) == {"vmgen generate": "Passed",
                                                      "vmgen check": "Passed"}


def test_compatible_change_passes(project: Project) -> None:
    project.set_header("watchdog-v2.h")
    project.regenerate()
    done = project.commit("release 2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "field 'WatchdogState.last_kick' added in version 2" in done.stdout + done.stderr


def test_breaking_change_fails_even_when_regenerated(project: Project) -> None:
    project.set_header("watchdog-v1.h", ("    uint8_t control;\n", ""))
    project.regenerate()
    done = project.commit("drop control")
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert _hook_lines(out) == {"vmgen generate": "Passed", "vmgen check": "Failed"}
    assert "breaking" in out and "control" in out
    # Nothing was committed: the baseline is still release 1.
    assert "uint8_t control;" in project.git("show", "HEAD:include/watchdog.h")
