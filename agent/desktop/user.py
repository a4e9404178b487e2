"""The account a sandbox's apps run as: an unprivileged user with the same HOME in every run.

Run as root (a CI machine, a container), the sandbox starts its apps, setup commands and session
bus as the user `agent` (created on first use) instead of root, so no application shows a "root
account" warning. Each such process gets its own private mount namespace in which the sandbox's
fresh home folder is bind-mounted on /home/agent: what the model sees (file dialogs, location
bars, window titles, a shell prompt) is the same in every run, and parallel sandboxes do not see
each other's files; the sandbox's runtime folder (session bus socket) is mounted on
/run/user/UID and its whole workdir on /run/agent-desktop ({workdir}) the same way. The host's folders are only mount points; nothing is written to them.

Run as an ordinary user, apps run as that user and HOME is the sandbox's own folder (its path
then differs between runs).
"""
from __future__ import annotations

import os
import pwd
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from agent.errors import DesktopUserError

USER_NAME = "agent"
USER_HOME = Path("/home") / USER_NAME

# $1..$6: three (sandbox folder, fixed path) pairs to bind (workdir, home, runtime); $7 uid, $8 gid,
# then the command's argv. cd to the fixed home, so the apps' working folder has no random name.
_ENTER = ('mount --bind "$1" "$2" && mount --bind "$3" "$4" && mount --bind "$5" "$6" && cd "$4" || exit 125; '
          'u=$7; g=$8; shift 8; exec setpriv --reuid="$u" --regid="$g" --init-groups -- "$@"')
WORKDIR = Path("/run/agent-desktop")



@dataclass(frozen=True)
class DesktopUser:
    """An account apps run as, and the fixed HOME they see."""

    name: str
    uid: int
    gid: int
    home: Path
    runtime: Path
    workdir: Path = WORKDIR

    def wrap(self, argv: list[str], sandbox_workdir: Path) -> list[str]:
        """argv run as this user, in a private mount namespace where the sandbox's workdir is at
        self.workdir, its home/ at self.home and its runtime/ at self.runtime."""
        pairs = [(sandbox_workdir, self.workdir), (sandbox_workdir / "home", self.home),
                 (sandbox_workdir / "runtime", self.runtime)]
        return ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", _ENTER, "sh",
                *[str(p) for pair in pairs for p in pair], str(self.uid), str(self.gid), *argv]

    def search_path(self, path: str) -> str:
        """path (a PATH value) without the folders this user cannot search, such as root's own
        (/root/.cargo/bin): there a missing command reads "not found", not "Permission denied"."""
        groups = set(os.getgrouplist(self.name, self.gid))
        kept = [entry for entry in path.split(os.pathsep) if self._can_search(entry, groups)]
        return os.pathsep.join(dict.fromkeys(kept))

    def _can_search(self, folder: str, groups: set[int]) -> bool:
        """True when folder is absolute and this user may enter it and every folder above it."""
        if not os.path.isabs(folder):
            return False  # a relative entry means "the current folder"; not for the apps
        real = Path(os.path.realpath(folder))
        for step in (real, *real.parents):
            try:
                info = step.stat()
            except OSError:
                return False
            bit = (stat.S_IXUSR if info.st_uid == self.uid else
                   stat.S_IXGRP if info.st_gid in groups else stat.S_IXOTH)
            if not stat.S_ISDIR(info.st_mode) or not info.st_mode & bit:
                return False
        return True

    def own(self, *paths: Path) -> None:
        """Give paths (recursively) to this user, so the apps can write what root prepared."""
        for top in paths:
            for root, dirs, files in os.walk(top):
                for name in [*dirs, *files]:
                    os.lchown(os.path.join(root, name), self.uid, self.gid)
            os.lchown(top, self.uid, self.gid)


def desktop_user() -> DesktopUser | None:
    """The account for a sandbox's apps: None when this process is not root (apps run as it)."""
    if os.geteuid() != 0:
        return None
    entry = _lookup() or _create()
    runtime = Path(f"/run/user/{entry.pw_uid}")
    for mount_point in (USER_HOME, runtime, WORKDIR):
        mount_point.mkdir(parents=True, exist_ok=True)
    return DesktopUser(entry.pw_name, entry.pw_uid, entry.pw_gid, USER_HOME, runtime)


def _lookup() -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(USER_NAME)
    except KeyError:
        return None


def _create() -> pwd.struct_passwd:
    done = subprocess.run(
        ["useradd", "--no-create-home", "--home-dir", str(USER_HOME), "--shell", "/bin/bash",
         "--comment", "desktop agent sandbox", USER_NAME],
        capture_output=True, text=True, timeout=60,
    )
    entry = _lookup()  # a parallel sandbox may have created it first (useradd then exits 9)
    if entry is None:
        raise DesktopUserError(f"could not create the sandbox user {USER_NAME!r} with useradd "
                               f"(exit {done.returncode}): {done.stderr.strip()}")
    return entry
