"""Where the programs the tests talk to come from: the host (Debian 12 in CI: OpenSSH 9.2, tshark
4.0), or the Debian 13 root filesystem scripts/rootfs builds (OpenSSH 10.0, tshark 4.4), whose
programs run via chroot.

Each program of the root filesystem runs in a mount namespace of its own (``unshare``), in which
/proc, /dev and the temporary directory are mounted into the root filesystem before the chroot:
every test file, key and config lives under the temporary directory, so the same paths work on
both sides, and the mounts end with the program (nothing to clean up, even after a crash). The
network is the host's, so loopback is shared. Needs root; otherwise the tests of the root
filesystem skip."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

STAMP = "etc/sshviz-rootfs"  # written by scripts/rootfs once the root filesystem is complete

# $1 the root filesystem, $2 the temporary directory, $3 the working directory; then the program.
_ENTER = """set -e
root=$1 tmp=$2 cwd=$3; shift 3
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mkdir -p "$root$tmp" "$root/run/sshd"
mount --bind "$tmp" "$root$tmp"
exec chroot "$root" /usr/bin/env --chdir="$cwd" "$@"
"""


def rootfs_path() -> Path:
    """The same place scripts/rootfs builds it."""
    if os.environ.get("SSHVIZ_ROOTFS"):
        return Path(os.environ["SSHVIZ_ROOTFS"])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "sshviz" / "debian13-rootfs"


@dataclass(frozen=True)
class Programs:
    """A place programs run from: the host (``root`` None) or a root filesystem."""

    id: str
    root: Path | None

    def exists(self, program: str) -> bool:
        if self.root is None:
            return os.path.exists(program) or shutil.which(program) is not None
        return (self.root / program.lstrip("/")).exists()

    def unusable(self) -> str | None:
        """Why these programs cannot run here, or None."""
        if self.root is None:
            return None
        return _rootfs_unusable(self.root)

    def require(self, *programs: str) -> None:
        """Skip the test unless these programs can run."""
        if (why := self.unusable()) is not None:
            pytest.skip(why)
        for program in programs:
            if not self.exists(program):
                where = "" if self.root is None else f" in {self.root}"
                pytest.skip(f"{program} is not installed{where} (scripts/test installs it from Debian's packages)")

    def argv(self, program: str, *args: str, cwd: str | os.PathLike | None = None) -> list[str]:
        """The command line that runs ``program`` with ``args`` (absolute paths inside the
        temporary directory mean the same file on both sides); ``cwd`` is the working
        directory it starts in (chroot would otherwise start it in /)."""
        if self.root is None:
            return [shutil.which(program) or program, *args]
        tmp = os.path.realpath(tempfile.gettempdir())
        return ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", _ENTER, "sh",
                str(self.root), tmp, os.path.abspath(cwd or tmp), program, *args]

    @functools.cached_property
    def ssh_version(self) -> str:
        """What ``ssh -V`` says, e.g. 'OpenSSH_10.0p2 Debian-7...'; '' when there is none."""
        if self.unusable() is not None or not self.exists("/usr/bin/ssh"):
            return ""
        done = subprocess.run(self.argv("/usr/bin/ssh", "-V"), capture_output=True, text=True, timeout=30)
        return done.stderr.strip()

    @functools.cached_property
    def tshark_version(self) -> str:
        """'4.4.19' and the like; '' when there is none."""
        if self.unusable() is not None or not self.exists("tshark" if self.root is None else "/usr/bin/tshark"):
            return ""
        done = subprocess.run(self.argv("tshark" if self.root is None else "/usr/bin/tshark", "--version"),
                              capture_output=True, text=True, timeout=60)
        words = done.stdout.split()
        return words[2].rstrip(".") if len(words) > 2 else ""


def host_is_debian13() -> bool:
    """Whether this machine is Debian 13 (trixie) itself, where scripts/rootfs builds nothing."""
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return False
    return any(line.strip() in ("VERSION_CODENAME=trixie", 'VERSION_CODENAME="trixie"') for line in text.splitlines())


@functools.cache
def _rootfs_unusable(root: Path) -> str | None:
    if not (root / STAMP).exists():
        if host_is_debian13():
            return "the host is Debian 13: its own OpenSSH 10 and tshark 4.4 are tested (scripts/rootfs builds no copy)"
        return f"no Debian 13 root filesystem at {root} (scripts/test builds it with scripts/rootfs)"
    if os.geteuid() != 0:
        return "running programs of the Debian 13 root filesystem (chroot) needs root"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    probe = Programs("probe", root)
    done = subprocess.run(probe.argv("/bin/true"), capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        return f"cannot enter the Debian 13 root filesystem: {done.stderr.strip()[:200]}"
    return None


HOST = Programs("host", None)
DEBIAN13 = Programs("debian13", rootfs_path())
