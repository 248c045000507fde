"""What the course needs from the machine beyond Python packages, checked before `make` installs
anything: run by the Makefile (and `.ci/run`) with the system's python3, so only the standard library.

    python3 -m instructor system-packages grading|tests

As root on Debian (or Ubuntu), what is missing is installed with apt-get. Anywhere else, it stops at
once (exit status 1) and prints the one command to run. `grading` is what `make demo` and a course
server need; `tests` adds what `make test` needs.
"""

import os
import shutil
import subprocess
import sys

# (what it is for, how to tell it is here, Debian's package)
GRADING = [
    ("the sandbox students' notebooks run in", lambda: shutil.which("bwrap"), "bubblewrap"),
    ("the sandbox's limits", lambda: shutil.which("prlimit") and shutil.which("setpriv"), "util-linux"),
    ("the course's virtual environment", lambda: _python_has("ensurepip"), "python3-venv"),
    ("Formgrader's MathJax (keyboard grading)", lambda: os.path.exists("/usr/share/javascript/mathjax/MathJax.js"),
     "libjs-mathjax"),
]
TESTS = GRADING + [
    ("the browser tests", lambda: shutil.which("chromium"), "chromium"),
    ("the browser tests", lambda: shutil.which("chromedriver"), "chromium-driver"),
    ("the Postgres gradebook test", lambda: _postgres(), "postgresql"),
    ("the JupyterHub test: its course environment, made with Debian's Python",
     lambda: subprocess.run(["/usr/bin/python3", "-c", "import ensurepip"], capture_output=True).returncode == 0
     if os.path.exists("/usr/bin/python3") else False, "python3-venv"),
    ("the JupyterHub test: the proxy that serves each server on a subdomain",
     lambda: shutil.which("configurable-http-proxy"), "node-configurable-http-proxy"),
]
NEEDS = {"grading": GRADING, "tests": TESTS}
PYTHONS = ((3, 11), (3, 14))  # pyproject.toml's requires-python: at least the first, below the second


def _python_has(module: str) -> bool:
    return subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode == 0


def _postgres() -> bool:
    folder = "/usr/lib/postgresql"
    return os.path.isdir(folder) and any(os.path.exists(os.path.join(folder, v, "bin", "initdb"))
                                         for v in os.listdir(folder))


def user_namespace_problem() -> "str | None":
    """Why an ordinary account cannot sandbox (bwrap cannot make a user namespace), or None."""
    if os.geteuid() == 0 or not shutil.which("bwrap"):
        return None
    done = subprocess.run(["bwrap", "--unshare-user", "--unshare-pid", "--unshare-net", "--ro-bind", "/", "/", "true"],
                          capture_output=True, text=True)
    if done.returncode == 0:
        return None
    return (f"bwrap cannot make a user namespace for this account ({done.stderr.strip()}): ask an administrator to "
            "allow unprivileged user namespaces (Debian 11: sysctl kernel.unprivileged_userns_clone=1; Ubuntu 24.04: "
            "sysctl kernel.apparmor_restrict_unprivileged_userns=0), or grade as root")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if len(argv) != 1 or argv[0] not in NEEDS:
        print(f"usage: python3 -m instructor system-packages {{{','.join(NEEDS)}}}\n\n{__doc__}",
              file=sys.stderr if argv[:1] not in (["-h"], ["--help"]) else sys.stdout)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    if not (PYTHONS[0] <= sys.version_info[:2] < PYTHONS[1]):
        print(f"The course needs Python {PYTHONS[0][0]}.{PYTHONS[0][1]} to {PYTHONS[1][0]}.{PYTHONS[1][1] - 1}; "
              f"{sys.executable} is {sys.version.split()[0]}. Run make with PYTHON=/path/to/python3.11",
              file=sys.stderr)
        return 1
    missing = [(purpose, package) for purpose, present, package in NEEDS[argv[0]] if not present()]
    packages = list(dict.fromkeys(package for _, package in missing))
    if packages:
        for purpose, package in missing:
            print(f"Missing: {package} ({purpose})", file=sys.stderr)
        debian = shutil.which("apt-get") is not None
        command = f"apt-get update && apt-get install -y {' '.join(packages)}"
        if debian and os.geteuid() == 0:
            print(f"Installing with apt-get: {' '.join(packages)}", file=sys.stderr, flush=True)
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
            subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, env=env, stdout=subprocess.DEVNULL)
        else:
            print("\nRun this first" + (" (as root), then make again:\n\n    sudo " + command if debian else
                  ", or install your system's equivalents of these Debian packages:\n\n    " + " ".join(packages)),
                  file=sys.stderr)
            return 1
    problem = user_namespace_problem()
    if problem:
        print(f"Grading cannot run as this account: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
