"""Run the course on this machine's JupyterHub (as root): accounts from a roster, each user's server
as that user, the graders' Formgrader as a hub service run by the course's grading account.

    sudo python -m instructor hub --roster roster.csv [--url https://hub.example.org] [--port 8000]
                                  [--home /srv/rnn-course]

The roster is a CSV file: username,role,name,password (role: student or grader; an empty password
makes one up for a new account, written to HOME/hub/new-passwords.csv). The hub runs in the
foreground until Ctrl-C or SIGTERM, then stops every server and its proxy; starting it again reuses
the accounts, the course folder, the gradebook and the hub's database. Each user's server, and
Formgrader, is served on a subdomain of the hub's address (alice.hub.example.org), so that a page one
user serves cannot act as another: the address needs a wildcard DNS name (*.hub.example.org). The
default, http://localhost:PORT, serves this machine only (browsers resolve *.localhost by themselves).
Add a student or a grader
mid-course: add a line to the roster and start the hub again. docs/deployment.md says more.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..hub import (CLEAN_ENV, HubProblem, grading_account, hub_accounts, intruders, prepare, served_at,
                   stop_processes)


def _wait_for_proxy(pid_file: Path, seconds: float = 10) -> None:
    """The proxy the hub started is gone before the command returns: a hub started again at once
    must not find it (and stop it through the pid file while it still serves)."""
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        return
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m instructor hub", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--roster", type=Path, required=True, help="CSV: username,role,name,password")
    parser.add_argument("--port", type=int, default=8000, help="the port the hub listens on (default 8000)")
    parser.add_argument("--url", default=None,
                        help="the hub's address as people type it, whose subdomains reach this machine "
                             "(default http://localhost:PORT; behind a TLS proxy: https://hub.example.org)")
    parser.add_argument("--home", type=Path, default=Path("/srv/rnn-course"),
                        help="where the hub keeps everything (default /srv/rnn-course)")
    parser.add_argument("--python", default="/usr/bin/python3",
                        help="a Python 3.11 every account can run, for the course environment (default /usr/bin/python3)")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("RNN_COURSE_DATA", "data")),
                        help="the folder with energy.csv (default: $RNN_COURSE_DATA, else data/)")
    parser.add_argument("--proxy", type=Path, default=None,
                        help="the proxy program (default: Debian's configurable-http-proxy, "
                             "apt-get install node-configurable-http-proxy)")
    parser.add_argument("--server-memory", default="4G",
                        help="memory of each user's server and its kernels together (default 4G; at most 1024 "
                             "processes each)")
    parser.add_argument("--prepare-only", action="store_true", help="make everything, then stop before the hub starts")
    args = parser.parse_args(argv)
    try:
        config, layout, course_id, url = prepare(args.roster, args.home.resolve(), args.port, args.python, args.data.resolve(),
                                         proxy=args.proxy, url=args.url,
                                         server_memory=args.server_memory)
    except HubProblem as problem:
        print(f"The hub cannot start: {problem}", file=sys.stderr)
        return 2
    if args.prepare_only:
        print(f"Ready: {config}")
        return 0
    formgrader = served_at(url, course_id, "service")
    print(f"JupyterHub for {course_id} at {url} (port {args.port}); Formgrader for graders at {formgrader}. "
          "Ctrl-C stops it.", flush=True)
    with open(layout.hub / "jupyterhub.log", "ab") as log:
        hub = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(config)], cwd=layout.hub,
                               env={**CLEAN_ENV, "HOME": os.environ.get("HOME", "/root")},
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    stopping = []

    def stop(signum, frame):
        stopping.append(signum)
        hub.send_signal(signal.SIGTERM)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    intrusion = None
    while True:
        try:
            status = hub.wait(timeout=2)
            break
        except subprocess.TimeoutExpired:
            pass
        if not stopping and not intrusion and (found := intruders(grading_account(course_id))):
            intrusion = found  # e.g. a student's process in Formgrader's place: the hub must not route to it
            hub.send_signal(signal.SIGTERM)
    _wait_for_proxy(layout.hub / "proxy.pid")
    left = stop_processes(hub_accounts(layout))  # what users left running, detached from servers
    if left:
        print(f"Processes of {', '.join(left)} could not be stopped: the next start refuses until they are gone",
              file=sys.stderr)
    if intrusion:
        print("JupyterHub stopped: " + "; ".join(intrusion) + ". Stop that process (ss -ltnp) and start the hub again.",
              file=sys.stderr)
        return 1
    if stopping:
        print("JupyterHub stopped.", flush=True)
        return 0
    print(f"JupyterHub ended by itself (status {status}): see {layout.hub / 'jupyterhub.log'}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
