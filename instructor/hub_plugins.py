"""What the course's JupyterHub loads from this checkout (instructor/hub.py names them in
jupyterhub_config.py; the hub runs as root).

`RosterAuthenticator`: PAM, for the roster's accounts only. JupyterHub would keep letting in, and
keep the API tokens of, anyone once in its database; a student dropped from the roster is deleted
from it at the next start, tokens included (a red team's dropped student started a server with an
old token).

`LimitedSpawner`: each user's server as that user, like JupyterHub's LocalProcessSpawner, with limits
of its own, so that one student's server (a fork bomb, a model too big) cannot take the machine from
the others and from Formgrader:

- processes: at most `process_limit` processes and threads of the user's account (RLIMIT_NPROC, which
  the system counts per user, set before the server becomes the user);
- memory: `mem_limit` bytes for the server and its kernels together, a memory cgroup of the server's
  (the sandbox's, grader_tests/plugins/limits.py); the system kills the biggest process over it."""

from __future__ import annotations

import os
import resource
import secrets

from jupyterhub.auth import PAMAuthenticator
from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Integer

from grader_tests.plugins import limits


class RosterAuthenticator(PAMAuthenticator):
    def add_user(self, user):
        """Called for every user in the hub's database at its start: one not on the roster is refused,
        which `delete_invalid_users` turns into its deletion, with its tokens and server."""
        if user.name not in self.allowed_users:
            raise ValueError(f"{user.name} is no longer on the course's roster")
        return super().add_user(user)


class LimitedSpawner(LocalProcessSpawner):
    process_limit = Integer(1024, config=True, help="processes and threads of a user's account at most")

    async def start(self):
        self.cgroup = None
        if self.mem_limit:
            self.cgroup = limits.MemoryCgroup.make(f"rnn-course-hub-{self.user.name}-{secrets.token_hex(4)}",
                                                   int(self.mem_limit))
            if self.cgroup is None:
                self.log.warning("No writable memory cgroup: %s's server has no memory limit", self.user.name)
        return await super().start()

    def make_preexec_fn(self, name):
        become_user = super().make_preexec_fn(name)
        join = self.cgroup.procs if self.cgroup else None
        most = self.process_limit

        def preexec():  # in the server's process, as root, before it runs the server
            if join:
                with open(join, "w") as handle:
                    handle.write(str(os.getpid()))
            resource.setrlimit(resource.RLIMIT_NPROC, (most, most))
            become_user()

        return preexec

    async def stop(self, now=False):
        try:
            await super().stop(now=now)
        finally:
            cgroup = getattr(self, "cgroup", None)
            if cgroup is not None:
                cgroup.kill()  # what the server left (a kernel it started): the user's processes end with it
                cgroup.remove()
                self.cgroup = None
