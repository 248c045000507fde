"""Real Unix accounts for the tests (students of the exchange, an ordinary account that grades), each
running commands as itself in this Python environment. The environment may lie where no ordinary
account reaches it (a Python under /root, a private temporary folder): bwrap, run by root, hides each
folder the account cannot cross under an empty tmpfs and mounts what the account needs back at its own
path. Nothing else changes: the account's rights, its own files, its namespaces to make."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import time
from pathlib import Path

from grader_tests.plugins.sandbox import python_roots


def reachable_environment(extra=(), writable=()) -> list:
    """bwrap options that let an unprivileged account use this Python and the student library, plus
    the folders `extra` (read-only) and `writable`, each at its own path."""
    library = Path(__import__("rnn_course").__file__).parent
    options, hidden, made = [], set(), set()
    wanted = {str(p): "--ro-bind" for p in {*python_roots(), str(library), *map(str, extra)}}
    wanted.update({str(p): "--bind" for p in writable})
    for path in sorted(wanted):
        ancestors = [str(a) for a in reversed(Path(path).parents)][1:]  # without "/"
        blocked = next((a for a in ancestors if not os.stat(a).st_mode & 0o001), None)
        if blocked is None:
            continue
        if blocked not in hidden:
            options += ["--tmpfs", blocked]
            hidden.add(blocked)
            made.add(blocked)
        for folder in ancestors[ancestors.index(blocked) + 1:]:
            if folder not in made:
                options += ["--dir", folder]
                made.add(folder)
        options += [wanted[path], path, path]
    return options


class Account:
    """A real Unix account with a private home, made afresh (and removed by `remove`)."""

    def __init__(self, name: str, comment: str, env: dict | None = None, reach=(), writable=()):
        subprocess.run(["pkill", "--signal", "KILL", "--uid", name], check=False, capture_output=True)  # left over from
        subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)  # an interrupted run
        subprocess.run(["useradd", "--create-home", "--user-group", "--shell", "/bin/sh", "--comment", comment, name],
                       check=True)
        self.name, self.entry = name, pwd.getpwnam(name)
        self.home = Path(self.entry.pw_dir)
        self.home.chmod(0o700)  # as on a JupyterHub: no one reads another's home
        self.env = {"HOME": str(self.home), "USER": self.name, "LOGNAME": self.name, "LANG": "C.UTF-8",
                    "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", **(env or {})}
        self.reach, self.writable = list(reach), list(writable)

    def command(self, *command: str, cwd: Path | None = None, env: dict | None = None) -> list:
        variables = {**self.env, **(env or {})}
        return ["bwrap", "--dev-bind", "/", "/", *reachable_environment(self.reach, self.writable),
                "--chdir", str(cwd or self.home), "--",
                "setpriv", f"--reuid={self.entry.pw_uid}", f"--regid={self.entry.pw_gid}", "--init-groups",
                "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--",
                "env", "-i", *(f"{k}={v}" for k, v in variables.items()), *command]

    def run(self, *command: str, stdin: bytes | None = None, cwd: Path | None = None, env: dict | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
        done = subprocess.run(self.command(*command, cwd=cwd, env=env), check=False, input=stdin,
                              capture_output=True, timeout=timeout)
        done.output = (done.stdout + done.stderr).decode(errors="replace")
        return done

    def must(self, *command: str, stdin: bytes | None = None, **options) -> str:
        done = self.run(*command, stdin=stdin, **options)
        assert done.returncode == 0, f"{self.name}: {' '.join(command)} failed:\n{done.output}"
        return done.output

    def python(self, code: str, stdin: bytes | None = None) -> str:
        return self.must(sys.executable, "-c", code, stdin=stdin)

    def give(self, *paths: Path) -> None:
        """Make `paths` (and everything under them) the account's own."""
        for path in paths:
            subprocess.run(["chown", "-R", "--no-dereference", f"{self.entry.pw_uid}:{self.entry.pw_gid}", str(path)],
                           check=True)

    def remove(self):
        """Stop every process of the account (a server it ran, what that server started), then delete it."""
        subprocess.run(["pkill", "--signal", "KILL", "--uid", self.name], check=False, capture_output=True)
        for _ in range(50):
            if subprocess.run(["pgrep", "--uid", self.name], capture_output=True).returncode != 0:
                break
            time.sleep(0.1)
        subprocess.run(["userdel", "--remove", self.name], check=False, capture_output=True)
