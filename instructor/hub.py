"""The course on one machine's JupyterHub, as nbgrader deploys it (the hub command's engine,
instructor/commands/hub.py; docs/deployment.md says what an administrator runs).

- Real Unix accounts from a roster: students and graders, each with a password (PAM), each home
  readable by its owner alone. Each user's server is spawned as that user (JupyterHub's local
  process spawner), from the course environment: the student library's pinned environment
  (release/student-library/) plus jupyterhub-singleuser, in a folder every account can read.
- The graders' Formgrader: a hub service named after the course id, a jupyterhub-singleuser run by an
  ordinary grading account (not root) in the course folder, which only that account can read.
  Graders reach it through the hub group `formgrade-<course id>`; students cannot.
- The exchange and the course id come from the course's nbgrader_config.py; the students' nbgrader
  configuration is written into the course environment (etc/jupyter/), not /etc.

Everything lives under one folder (default /srv/rnn-course): hub/ (the hub's database, secrets,
configuration and log; root's), env/ (the course environment), data/ (the GEFCom2014 data, readable by
all), grading/ (the grading account's home, with course/ inside). Starting again reuses all of it.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from .classroom import REPO
from .exchange import course_config, make_exchange, write_students_config

ROLES = ("student", "grader")
ACCOUNT = re.compile(r"[a-z_][a-z0-9_-]{0,30}")  # what useradd takes (Debian's NAME_REGEX, shortened)
PORTS = {"hub API": 8081, "proxy API": 8001, "Formgrader service": 9999}  # on 127.0.0.1; the public port is an option
COURSE_PARTS = ("nbgrader_config.py", "source", "release")  # copied into the course folder once: then the graders'
CODE_PARTS = ("grader_tests", "instructor")  # the grading kit and nbgrader's plug-ins: this checkout's, at every start
DATA_FILES = ("energy.csv", "GEFCom2014-E.xlsx")
# nbgrader's instructor panels: off in the course environment (students), on again for the graders' service
INSTRUCTOR_LAB_EXTENSIONS = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment")
INSTRUCTOR_SERVER_EXTENSION = "nbgrader.server_extensions.formgrader"
SERVER_STOP_SECONDS = 5  # servers ignore SIGINT: SIGTERM after 1 s, SIGKILL after this


class HubProblem(Exception):
    """The hub cannot start as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Member:
    username: str
    role: str
    name: str
    password: str  # "" when the roster gives none: one is made for a new account


@dataclass(frozen=True)
class Layout:
    home: Path

    @property
    def hub(self) -> Path:
        return self.home / "hub"

    @property
    def env(self) -> Path:
        return self.home / "env"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def grading(self) -> Path:
        return self.home / "grading"

    @property
    def course(self) -> Path:
        return self.grading / "course"


def read_roster(path: Path) -> list:
    """The roster's members: a CSV file with the header username,role,name,password (password may be
    empty). Every line it cannot use is named with the reason."""
    problems, members, seen = [], [], set()
    try:
        text = path.read_text()
    except OSError as error:
        raise HubProblem(f"cannot read the roster {path}: {error.strerror}") from None
    rows = csv.DictReader(text.splitlines())
    if rows.fieldnames is None or not {"username", "role"} <= set(rows.fieldnames):
        raise HubProblem(f"{path}: the first line must be the header username,role,name,password")
    for number, row in enumerate(rows, start=2):
        username, role = (row.get("username") or "").strip(), (row.get("role") or "").strip().lower()
        if None in row:
            problems.append(f"line {number}: more fields than the header has")
        elif not ACCOUNT.fullmatch(username):
            problems.append(f"line {number}: {username!r} is not a Unix account name (lower-case letters, digits, - _)")
        elif role not in ROLES:
            problems.append(f"line {number}: role {role!r} is neither {' nor '.join(ROLES)}")
        elif username in seen:
            problems.append(f"line {number}: {username} is listed twice")
        elif ":" in (row.get("password") or "") or "\n" in (row.get("password") or ""):
            problems.append(f"line {number}: a password cannot hold ':'")
        else:
            seen.add(username)
            members.append(Member(username, role, (row.get("name") or "").strip() or username,
                                  (row.get("password") or "").strip()))
    if problems:
        raise HubProblem(f"the roster {path} has lines the hub cannot use:\n  " + "\n  ".join(problems))
    if not any(m.role == "grader" for m in members):
        raise HubProblem(f"the roster {path} names no grader: Formgrader would be reachable by no one")
    return members


def grading_account(course_id: str) -> str:
    return f"grader-{course_id}"[:32]


LOOPBACK = {"0100007F", "00000000", "0000000000000000FFFF00000100007F"}  # 127.0.0.1, 0.0.0.0, ::ffff:127.0.0.1
ANY_IPV6 = "0" * 32  # [::]: reaches 127.0.0.1 too, unless IPv6 only


def listeners(port: int) -> list:
    """(uid, local address in /proc's hex) of the sockets listening on TCP `port`, from /proc/net/tcp and tcp6."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 7 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                found.append((int(fields[7]), fields[1].rsplit(":", 1)[0]))
    return found


def check_root() -> None:
    if os.geteuid() != 0:
        raise HubProblem("the hub must run as root: it makes the accounts and starts each user's server as that user "
                         "(sudo python -m instructor hub ...)")


def check_can_start(port: int) -> None:
    check_root()
    for what, number in {"the hub's public port": port, **PORTS}.items():
        if listeners(number):
            raise HubProblem(f"port {number} ({what}) is taken: stop what listens there "
                             f"(ss -ltnp 'sport = :{number}'){' or choose another with --port' if what not in PORTS else ''}")


def accounts_made(layout: "Layout") -> set:
    """The accounts this hub made (hub/accounts-made): the only ones whose password and home it changes."""
    try:
        return set((layout.hub / "accounts-made").read_text().split())
    except OSError:
        return set()


def check_accounts(members, account: str, made: set) -> None:
    """Refuse roster lines naming an account the hub did not make: a system account, the grading
    account, or anyone's existing account (the hub would set its password and close its home)."""
    problems = []
    for member in members:
        if member.username == account:
            problems.append(f"{member.username} is the course's grading account")
            continue
        try:
            entry = pwd.getpwnam(member.username)
        except KeyError:
            continue
        if entry.pw_uid < 1000:
            problems.append(f"{member.username} is a system account (uid {entry.pw_uid})")
        elif member.username not in made:
            problems.append(f"{member.username} is an existing account this hub did not make (delete it, or choose "
                            "another name)")
    if problems:
        raise HubProblem("the roster names accounts the hub must not take over:\n  " + "\n  ".join(problems))


def _kill_all_as(uid: int, gid: int) -> None:
    """SIGKILL every process of the account at once: kill(-1) as the account itself. A process that
    forks and exits every few milliseconds outruns a kill by pid (a red team's did)."""
    child = os.fork()
    if child == 0:
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)  # all the account's processes but this one
        finally:
            os._exit(0)
    os.waitpid(child, 0)


def stop_processes(usernames, seconds: float = 10) -> list:
    """Kill every process of these accounts and wait until they are gone (a detached one would outlive
    the hub and could take a port the hub needs, such as Formgrader's). Returns the accounts that still
    have processes after `seconds`."""
    from grader_tests.plugins import limits

    left = []
    for username in usernames:
        try:
            entry = pwd.getpwnam(username)
        except KeyError:
            continue
        if entry.pw_uid < 1000:
            continue
        deadline = time.monotonic() + seconds
        while limits.uid_processes(entry.pw_uid):
            if time.monotonic() > deadline:
                left.append(username)
                break
            _kill_all_as(entry.pw_uid, entry.pw_gid)
            time.sleep(0.05)
    return left


def real_folder(path: Path) -> Path:
    """`path`, if it is a folder and no link (root writes below folders ordinary accounts own)."""
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise HubProblem(f"{path} is not a folder (a link?): move it away")
    return path


CLEAN_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
             "NODE_PATH": "/usr/share/nodejs"}  # Debian's Node modules, for a Node.js not Debian's (NodeSource's)
PROXY_PACKAGE = "node-configurable-http-proxy"  # Debian's JupyterHub proxy: the one that routes by host name


def _run(*command: str, stdin: str | None = None, cwd: Path | None = None) -> None:
    """A command with none of this process's variables (PYTHONPATH would bring this checkout along)."""
    done = subprocess.run(command, input=stdin, text=True, capture_output=True, cwd=cwd or "/",
                          env={**CLEAN_ENV, "HOME": os.environ.get("HOME", "/root")})
    if done.returncode != 0:
        raise HubProblem(f"{' '.join(command[:3])} failed: {done.stderr.strip() or done.stdout.strip()}")


def make_account(username: str, comment: str, made_file: Path, home: Path | None = None) -> bool:
    """Make the Unix account unless it exists (recorded in `made_file`); its home is its own alone
    (0700). True if it was made now."""
    try:
        pwd.getpwnam(username)
        made = False
    except KeyError:
        _run("useradd", "--create-home", "--user-group", "--shell", "/bin/bash", "--comment", comment,
             *(("--home-dir", str(home)) if home else ()), username)
        with open(made_file, "a") as record:
            record.write(username + "\n")
        made = True
    entry = pwd.getpwnam(username)
    if username in set(made_file.read_text().split()):
        os.chmod(real_folder(Path(entry.pw_dir)), 0o700)
    return made


def set_accounts(members, hub_folder: Path) -> list:
    """Make the roster's accounts; returns the names made. A new account without a password in the
    roster gets a made-up one, written to hub/new-passwords.csv (root's alone) for the administrator."""
    made, new_passwords = [], []
    for member in members:
        if make_account(member.username, member.name, hub_folder / "accounts-made"):
            made.append(member.username)
            password = member.password or secrets.token_urlsafe(12)
            if not member.password:
                new_passwords.append((member.username, password))
        else:
            password = member.password  # an existing account keeps its password unless the roster gives one
        if password:
            _run("chpasswd", stdin=f"{member.username}:{password}\n")
    if new_passwords:
        with os.fdopen(os.open(hub_folder / "new-passwords.csv", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
                       "w") as handle:
            handle.writelines(f"{username},{password}\n" for username, password in new_passwords)
    return made


def _requirements_digest(checkout: Path) -> str:
    library = checkout / "release" / "student-library"
    digest = hashlib.sha256()
    for path in sorted(library.iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    digest.update((checkout / "requirements-lock.txt").read_bytes())
    return digest.hexdigest()


def build_environment(layout: Layout, python: str, checkout: Path = REPO) -> None:
    """The course environment every server runs in: the student library as students install it, and
    jupyterhub-singleuser; built once, again only when the student library changes."""
    marker = layout.env / ".built-from"
    wanted = _requirements_digest(checkout)
    if marker.exists() and marker.read_text() == wanted:
        return
    library = checkout / "release" / "student-library"
    (wheel,) = library.glob("*.whl")
    if layout.env.exists():
        shutil.rmtree(layout.env)
    _run(python, "-m", "venv", str(layout.env))
    print(f"Installing the course environment into {layout.env} (a few minutes) ...", flush=True)
    jupyterhub = next(line for line in (checkout / "requirements-lock.txt").read_text().splitlines()
                      if line.startswith("jupyterhub=="))
    _run(str(layout.env / "bin" / "pip"), "install", "--quiet", "--constraint", str(checkout / "requirements-lock.txt"),
         "-r", str(library / "requirements.txt"), str(wheel), jupyterhub, cwd=layout.env)
    _run(str(layout.env / "bin" / "python"), "-c", "import rnn_course, sys; "
         "assert rnn_course.__file__.startswith(sys.prefix), rnn_course.__file__")
    jupyter = str(layout.env / "bin" / "jupyter")
    _run(jupyter, "labextension", "disable", "--level=sys_prefix", *INSTRUCTOR_LAB_EXTENSIONS)
    _run(jupyter, "server", "extension", "disable", "--sys-prefix", INSTRUCTOR_SERVER_EXTENSION)
    etc = layout.env / "etc" / "jupyter"
    etc.mkdir(parents=True, exist_ok=True)
    # Formgrader's MathJax from Debian's libjs-mathjax. Students' servers keep JupyterHub's "frame-ancestors 'none'".
    (etc / "jupyter_server_config.py").write_text(
        "# written by `python -m instructor hub`\n"
        "c.ServerApp.extra_static_paths = ['/usr/share/javascript']\n")
    subprocess.run(["chmod", "-R", "a+rX,go-w", str(layout.env)], check=True)
    marker.write_text(wanted)


def place_data(layout: Layout, source: Path) -> None:
    """The data, readable by every account (students load it in their notebooks)."""
    layout.data.mkdir(parents=True, exist_ok=True)
    os.chmod(layout.data, 0o755)
    for name in DATA_FILES:
        if (source / name).is_file() and not (layout.data / name).exists():
            shutil.copyfile(source / name, layout.data / name)
            os.chmod(layout.data / name, 0o644)
    if not (layout.data / DATA_FILES[0]).exists():
        raise HubProblem(f"no {DATA_FILES[0]} in {source}: set RNN_COURSE_DATA to the folder that holds it")


def _copy(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints",
                                                                       "student-library"))
    else:
        shutil.copy(source, target)


def place_course(layout: Layout, account: str, checkout: Path = REPO) -> None:
    """The course folder of the grading account. Its notebooks and configuration come from this checkout
    the first time; afterwards they are the graders' (with the gradebook and the submissions) and are
    left as they are. The grading kit and the plug-ins are this checkout's, renewed at every start.
    The account's processes are stopped first, and no link it made is followed."""
    made = make_account(account, "the course's grading account", layout.hub / "accounts-made", home=layout.grading)
    if account not in accounts_made(layout):
        raise HubProblem(f"the grading account {account} exists but this hub did not make it: delete it, or use "
                         "another --home")
    entry = pwd.getpwnam(account)
    stop_processes([account])
    real_folder(layout.grading)
    if not os.path.lexists(layout.course):
        layout.course.mkdir()
        for part in COURSE_PARTS:
            _copy(checkout / part, layout.course / part)
    elif made:
        raise HubProblem(f"{layout.course} exists but its account {account} did not: move it away or make the account")
    real_folder(layout.course)
    for part in CODE_PARTS:
        target = layout.course / part
        if os.path.islink(target) or (os.path.lexists(target) and not os.path.isdir(target)):
            os.remove(target)
        shutil.rmtree(target, ignore_errors=True)
        _copy(checkout / part, target)
    # the grading account's own Jupyter configuration (read before the environment's): Formgrader on
    config = layout.grading / ".jupyter"
    for folder in (config, config / "labconfig"):
        if os.path.lexists(folder) and not os.path.isdir(folder) or os.path.islink(folder):
            os.remove(folder)
        folder.mkdir(exist_ok=True)
    _write_new(config / "labconfig" / "page_config.json",
               json.dumps({"disabledExtensions": {name: False for name in INSTRUCTOR_LAB_EXTENSIONS}}, indent=1))
    # Formgrader's panel in the service's JupyterLab frames the service's own pages: on its own origin, no
    # page a student serves can frame them
    _write_new(config / "jupyter_server_config.json",
               json.dumps({"ServerApp": {"jpserver_extensions": {INSTRUCTOR_SERVER_EXTENSION: True},
                                         "tornado_settings": {"headers": {
                                             "Content-Security-Policy": "frame-ancestors 'self'"}}}}, indent=1))
    run = layout.grading / ".run"  # its kernels' folders (the sandbox's run folder), not in /tmp
    if os.path.islink(run):
        os.remove(run)
    run.mkdir(exist_ok=True)
    subprocess.run(["chown", "-R", "-P", f"{entry.pw_uid}:{entry.pw_gid}", str(layout.grading)], check=True)
    os.chmod(layout.grading, 0o700)
    os.chmod(run, 0o700)


def _write_new(path: Path, text: str) -> None:
    """Write a file afresh, never through a link put in its place."""
    if os.path.lexists(path):
        os.remove(path)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644), "w") as handle:
        handle.write(text)


def place_exchange(exchange: str, course_id: str, account: str) -> None:
    """The exchange folder (open to all, sticky) and the course's folder in it, made now and owned by
    the grading account: a student cannot make it first and receive the others' submissions."""
    try:
        make_exchange(exchange)
    except ValueError as error:
        raise HubProblem(str(error)) from None
    entry = pwd.getpwnam(account)
    course = Path(exchange) / course_id
    if not os.path.lexists(course):
        course.mkdir()
        os.chown(course, entry.pw_uid, entry.pw_gid)
        os.chmod(course, 0o755)
    info = os.lstat(course)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != entry.pw_uid:
        raise HubProblem(f"{course} was not made by the grading account {account} (it could be a student's): "
                         "move it away")


def public_url(url: str) -> str:
    """The hub's address as people type it, checked: http(s)://host[:port], no path. Each server is
    served on a subdomain of its host (JupyterHub's subdomain_host), which must reach this machine."""
    parsed = urllib.parse.urlsplit(url)
    try:
        parsed.port
    except ValueError:
        parsed = None
    if not parsed or parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.path not in ("", "/") \
            or parsed.query or parsed.username or re.fullmatch(r"[\d.]+|\[.*\]", parsed.netloc.rsplit(":", 1)[0]):
        raise HubProblem(f"--url {url!r} is not an address such as https://hub.example.org (a host name, not an IP "
                         "address: each server is served on a subdomain of it)")
    if parsed.scheme == "http" and parsed.hostname != "localhost" and not parsed.hostname.endswith(".localhost"):
        raise HubProblem(f"--url {url!r}: over plain HTTP, passwords and cookies cross the network readable, and "
                         "the hub's login cookie cannot be kept from the servers' subdomains (a __Host- cookie needs "
                         "HTTPS): put a TLS proxy in front (docs/deployment.md) and give --url https://...")
    return f"{parsed.scheme}://{parsed.netloc}"


def served_at(url: str, name: str, kind: str) -> str:
    """Where the hub at `url` serves the server of a user (`kind` user) or a service: on its own
    subdomain, named by JupyterHub's own rule."""
    from jupyterhub.utils import subdomain_hook_idna

    parsed = urllib.parse.urlsplit(url)
    host = subdomain_hook_idna(name, parsed.hostname, kind) + (f":{parsed.port}" if parsed.port else "")
    return f"{parsed.scheme}://{host}/{'user' if kind == 'user' else 'services'}/{name}/"


def find_proxy(proxy: Path | None) -> Path:
    """The proxy program: the one given, else Debian's Node configurable-http-proxy."""
    found = proxy or (Path(shutil.which("configurable-http-proxy") or "/nonexistent"))
    if not os.access(found, os.X_OK):
        raise HubProblem(f"the proxy {found} is not a program this machine can run" if proxy else
                         f"JupyterHub's proxy is not installed: apt-get install {PROXY_PACKAGE}")
    return found


def write_config(layout: Layout, members, course_id: str, account: str, port: int, exchange: str,
                 proxy: Path, url: str, server_memory: str = "4G", checkout: Path = REPO) -> Path:
    """jupyterhub_config.py of this course, in hub/ (written anew at every start)."""
    students = sorted(m.username for m in members if m.role == "student")
    graders = sorted(m.username for m in members if m.role == "grader")
    group = f"formgrade-{course_id}"
    env_bin = layout.env / "bin"
    path_value = f"{env_bin}:/usr/local/bin:/usr/bin:/bin"
    server_env = {"RNN_COURSE_DATA": str(layout.data), "PATH": path_value, "LANG": "C.UTF-8"}
    service_env = {**server_env, "JUPYTERHUB_DEFAULT_URL": "/lab", "RNN_COURSE_EXCHANGE": exchange,
                   "HOME": str(layout.grading), "XDG_RUNTIME_DIR": str(layout.grading / ".run")}
    settings = {
        "JupyterHub.bind_url": f"http://:{port}",
        "JupyterHub.subdomain_host": url,  # every server, and Formgrader, on an origin of its own
        # over HTTPS, the hub's login cookie is __Host-: no server's subdomain can set one in its place
        "JupyterHub.cookie_host_prefix_enabled": url.startswith("https://"),
        "JupyterHub.hub_bind_url": f"http://127.0.0.1:{PORTS['hub API']}",
        "ConfigurableHTTPProxy.api_url": f"http://127.0.0.1:{PORTS['proxy API']}",
        "ConfigurableHTTPProxy.command": [str(proxy)],
        "ConfigurableHTTPProxy.pid_file": str(layout.hub / "proxy.pid"),
        "ConfigurableHTTPProxy.auth_token": (layout.hub / "proxy_token").read_text().strip(),
        "JupyterHub.db_url": f"sqlite:///{layout.hub / 'jupyterhub.sqlite'}",
        "JupyterHub.cookie_secret_file": str(layout.hub / "jupyterhub_cookie_secret"),
        "JupyterHub.pid_file": str(layout.hub / "jupyterhub.pid"),
        # instructor/hub_plugins.py: PAM for the roster only; anyone dropped from it leaves the hub's database
        "JupyterHub.authenticator_class": "instructor.hub_plugins.RosterAuthenticator",
        "Authenticator.allowed_users": students + graders,
        "Authenticator.allow_existing_users": False,
        "Authenticator.delete_invalid_users": True,
        "PAMAuthenticator.open_sessions": False,
        "JupyterHub.cleanup_servers": True,
        "JupyterHub.load_groups": {group: graders},
        "JupyterHub.load_roles": [
            {"name": group, "groups": [group],
             "scopes": [f"access:services!service={course_id}", "list:services", f"read:services!service={course_id}"]},
            {"name": "server", "scopes": ["inherit"]},
        ],
        "JupyterHub.services": [{
            "name": course_id, "url": f"http://127.0.0.1:{PORTS['Formgrader service']}",
            "command": [str(env_bin / "jupyterhub-singleuser"), f"--ServerApp.root_dir={layout.course}"],
            "user": account, "cwd": str(layout.course), "environment": service_env, "display": True,
            "oauth_no_confirm": True,
        }],
        # instructor/hub_plugins.py: each server as its user, at most 1024 processes and `server_memory` bytes
        "JupyterHub.spawner_class": "instructor.hub_plugins.LimitedSpawner",
        "Spawner.mem_limit": server_memory,
        "Spawner.cmd": [str(env_bin / "jupyterhub-singleuser")],
        "Spawner.default_url": "/lab",
        "Spawner.environment": server_env,
        "Spawner.env_keep": [],  # nothing of the hub's own environment reaches a user's server
        "Spawner.start_timeout": 120,
        "Spawner.http_timeout": 120,
        "LocalProcessSpawner.interrupt_timeout": 1,
        "LocalProcessSpawner.term_timeout": SERVER_STOP_SECONDS,
    }
    lines = ["# The course's JupyterHub: written by `python -m instructor hub` at every start; edit the roster or",
             "# the command's options instead.", "c = get_config()  # noqa: F821",
             "import sys  # noqa: E402", f"sys.path.insert(0, {str(checkout)!r})  # instructor/hub_plugins.py"]
    lines += [f"c.{name} = {value!r}" for name, value in settings.items()]
    lines += ["# JupyterHub 6.1.1 links a service on a subdomain without the hub's port (the Services menu):",
              "from jupyterhub.services.service import Service  # noqa: E402",
              "Service.href = property(lambda service: service.host + service.prefix if service.domain else service.prefix)"]
    config = layout.hub / "jupyterhub_config.py"
    config.write_text("\n".join(lines) + "\n")
    return config


def check_python(python: str, checkout: Path = REPO) -> None:
    """The course environment's Python: one every account can run, of the version the student library's
    requirements were pinned on, able to make a venv."""
    wanted = re.search(r"on Python (\d+\.\d+)", (checkout / "release" / "student-library" / "requirements.txt").read_text())
    wanted = wanted.group(1) if wanted else "3.11"
    try:
        done = subprocess.run([python, "-c", "import ensurepip, sys; print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True, env=CLEAN_ENV)
    except OSError as error:
        raise HubProblem(f"{python} cannot be run ({error.strerror}): apt-get install python3-venv, or give --python") from None
    if done.returncode != 0:
        raise HubProblem(f"{python} cannot make a virtual environment: apt-get install python3-venv")
    real = Path(shutil.which(python) or python).resolve()
    closed = [str(folder) for folder in real.parents if not os.stat(folder).st_mode & 0o001]
    if closed:
        raise HubProblem(f"{python} lies in {closed[-1]}, which other accounts cannot enter: give --python a Python "
                         "every account can run (Debian's /usr/bin/python3)")
    if done.stdout.strip() != wanted:
        raise HubProblem(f"{python} is Python {done.stdout.strip()}; the student library is pinned on {wanted}: "
                         f"give --python a Python {wanted} every account can run")


def prepare(roster: Path, home: Path, port: int, python: str, data: Path, checkout: Path = REPO,
            proxy: Path | None = None, url: str | None = None, server_memory: str = "4G") -> tuple:
    """Everything the hub needs, made or checked; returns (jupyterhub_config.py, layout, course id, the
    hub's address).
    What it refuses, it refuses before it changes anything, except that the processes the hub's own
    accounts left running (detached from a server) are stopped before the ports are checked."""
    check_root()
    url = public_url(url or f"http://localhost:{port}")
    if not re.fullmatch(r"[1-9]\d*[KMGT]?", server_memory):
        raise HubProblem(f"--server-memory {server_memory!r} is not a size such as 4G or 512M")
    proxy = find_proxy(proxy)
    members = read_roster(roster)
    layout = Layout(home)
    config = course_config(checkout)
    course_id, exchange = config.CourseDirectory.course_id, config.Exchange.root
    account = grading_account(course_id)
    made_before = accounts_made(layout)
    check_accounts(members, account, made_before)
    left = stop_processes(made_before)  # the roster's, the grading account, and those dropped from the roster
    if left:
        raise HubProblem(f"processes of {', '.join(left)} could not be stopped (ps -u {left[0]}); stop them and start again")
    check_can_start(port)
    check_python(python, checkout)
    for folder in (layout.home, layout.hub):
        folder.mkdir(parents=True, exist_ok=True)
    os.chmod(layout.home, 0o755)
    os.chmod(layout.hub, 0o700)
    token = layout.hub / "proxy_token"
    if not token.exists():
        with os.fdopen(os.open(token, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
            handle.write(secrets.token_hex(32))
    place_data(layout, data)
    build_environment(layout, python, checkout)
    place_course(layout, account, checkout)
    made = set_accounts(members, layout.hub)
    locked = lock_dropped(layout, members, account)
    if locked:
        print(f"Accounts no longer on the roster, locked (their homes kept): {', '.join(locked)}")
    if made:
        print(f"Accounts made: {', '.join(made)}" + (f"; passwords made up for them are in {layout.hub / 'new-passwords.csv'}"
                                                     if any(not m.password for m in members if m.username in made) else ""))
    place_exchange(exchange, course_id, account)
    write_students_config(layout.env / "etc" / "jupyter" / "nbgrader_config.py", course_id, exchange,
                          config.Execute.timeout)
    return (write_config(layout, members, course_id, account, port, exchange, proxy, url, server_memory, checkout),
            layout, course_id, url)


def hub_accounts(layout: Layout) -> list:
    """The accounts whose processes end with the hub: every account it made (the grading account, and the
    roster's, those dropped from it since included)."""
    return sorted(accounts_made(layout))


def lock_dropped(layout: Layout, members, account: str) -> list:
    """Lock the password of each account the hub made that the roster no longer names (it is kept, with
    its home); unlock those named again. Returns the names locked."""
    named = {m.username for m in members}
    dropped = sorted(accounts_made(layout) - named - {account})
    for name in dropped:
        _run("usermod", "--lock", name)
    for name in sorted(named & accounts_made(layout)):  # back on the roster (no error if it was never locked)
        subprocess.run(["usermod", "--unlock", name], capture_output=True, env=CLEAN_ENV)
    return dropped


def intruders(account: str) -> list:
    """What listens on 127.0.0.1 at a port of the hub's but is not the hub's (root: the hub and its proxy;
    the grading account: Formgrader): a student's process that took Formgrader's port, for example. A
    student's listener on another address (::1, 127.0.0.2) receives nothing of the hub's, and an IPv6 one
    on [::] nothing either while the port's owner holds it on 127.0.0.1 (the kernel would have refused it)."""
    expected = {"hub API": {0}, "proxy API": {0}, "Formgrader service": {pwd.getpwnam(account).pw_uid}}
    found = []
    for what, owners in expected.items():
        held = listeners(PORTS[what])
        owned = any(uid in owners and address in LOOPBACK for uid, address in held)
        found += [f"port {PORTS[what]} ({what}) is held by uid {uid}" for uid, address in held
                  if uid not in owners and (address in LOOPBACK or address == ANY_IPV6 and not owned)]
    return found
