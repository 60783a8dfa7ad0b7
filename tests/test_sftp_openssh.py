"""Interop with real OpenSSH, the host's (9.2 in CI) and Debian 13's 10.0 (the ``openssh``
fixture): the sshviz SFTP client against sshd (internal-sftp and sftp-server), OpenSSH's sftp
against the sshviz server (over SSH with -b, and over stdio with -D, the host's sftp only: the
root filesystem has no Python to run sshviz's stdio server), file contents compared byte for
byte, and every confinement escape tried with OpenSSH's own client."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sshviz.auth.client import ClientAuthConfig
from sshviz.crypto.keyfiles import read_private_key
from sshviz.endpoint import ClientConfig
from sshviz.fs.confined import ConfinedFS
from sshviz.net.sftp import open_sftp
from sshviz.sftp.client import SftpError
from sshviz.transport.transport import TransportConfig
from sshviz.wire.sftp import StatusCode

from .openssh import openssh, require, shared_keys  # noqa: F401
from .openssh import sshd as openssh_sshd
from .openssh import sshviz_server
from .rootfs import HOST, Programs
from .sftp_helpers import SFTP_SERVER, sftp_options, sftp_server_config

pytestmark = pytest.mark.interop

USER = getpass.getuser()
REPO = Path(__file__).resolve().parent.parent
# Subprocesses import this checkout's sshviz, installed or not.
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
SIZES = [0, 1, 32 * 1024, 255 * 1024 + 7, 3 * 1024 * 1024 + 1]
BIG = 24 * 1024 * 1024 + 13


@pytest.fixture(scope="module")
def user_key():
    """(private key path, public key line)."""
    require("ssh-keygen")
    path = shared_keys() / "user_ed25519"
    return path, Path(str(path) + ".pub").read_text().strip()


def make_files(directory: Path, sizes) -> dict[str, bytes]:
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for size in sizes:
        data = os.urandom(size)
        (directory / f"f{size}.bin").write_bytes(data)
        files[f"f{size}.bin"] = data
    return files


def digest(path: Path) -> bytes:
    return hashlib.sha256(path.read_bytes()).digest()


# -- the sshviz client against OpenSSH's sshd ----------------------------------------------------

@pytest.fixture(params=["internal-sftp", SFTP_SERVER])
def sshd(request, openssh):
    openssh.require("/usr/sbin/sshd", SFTP_SERVER)
    with openssh_sshd(subsystem=request.param, host_keys=("ed25519",), authorized=("ed25519",),
                      openssh=openssh) as server:
        server.known_hosts = server.known_hosts_file()
        yield server


def client_config(user_key, ciphers=None) -> ClientConfig:
    transport = TransportConfig(verify_host_key=lambda key: ("known", "test server"),
                                host_label="127.0.0.1")
    if ciphers:
        transport.ciphers = ciphers
    return ClientConfig(transport, ClientAuthConfig(user=USER, keys=[read_private_key(str(user_key[0]))]))


def test_sshviz_client_against_openssh_sshd(sshd, user_key, tmp_path):
    local = tmp_path / "local"
    files = make_files(local, SIZES + [BIG])
    remote = tmp_path / "remote"
    back = tmp_path / "back"
    back.mkdir()
    local_fs = ConfinedFS("/")

    async def session():
        sftp = await open_sftp("127.0.0.1", sshd.port, client_config(user_key))
        async with sftp:
            assert "limits@openssh.com" in sftp.client.extensions
            assert sftp.client.read_size > 200 * 1024
            await sftp.mkdir(str(remote))
            for name in files:
                await sftp.put(local_fs, str(local / name), f"{remote}/{name}")
            listed = sorted(name for name, _, _ in await sftp.listdir(str(remote)))
            assert listed == sorted(files)
            for name in files:
                await sftp.get(f"{remote}/{name}", local_fs, str(back / name))
            await sftp.rename(f"{remote}/f1.bin", f"{remote}/renamed.bin")
            await sftp.symlink("renamed.bin", f"{remote}/link")
            assert await sftp.readlink(f"{remote}/link") == "renamed.bin"
            assert (await sftp.stat(f"{remote}/link")).size == 1
            await sftp.hardlink(f"{remote}/renamed.bin", f"{remote}/hard")
            assert (await sftp.statvfs(str(remote)))["f_bsize"] > 0
            await sftp.remove(f"{remote}/link")
            await sftp.remove(f"{remote}/hard")
            with pytest.raises(SftpError) as missing:
                await sftp.stat(f"{remote}/nothing")
            assert missing.value.code == StatusCode.NO_SUCH_FILE
            await sftp.get(str(remote), local_fs, str(tmp_path / "tree"), recursive=True)

    asyncio.run(session())
    for name, data in files.items():
        assert hashlib.sha256((back / name).read_bytes()).digest() == hashlib.sha256(data).digest(), name
        written = remote / ("renamed.bin" if name == "f1.bin" else name)
        assert written.read_bytes() == data, name
    assert sorted(os.listdir(tmp_path / "tree")) == sorted(
        ["renamed.bin" if n == "f1.bin" else n for n in files])


def test_sshviz_cli_batch_against_openssh_sshd(sshd, user_key, tmp_path):
    local = tmp_path / "local"
    files = make_files(local, [0, 100_000])
    batch = tmp_path / "batch"
    batch.write_text(f"lcd {local}\nmkdir {tmp_path}/r\ncd {tmp_path}/r\nput f100000.bin\n"
                     f"-rm nothing\nget f100000.bin copy.bin\nls -l\nrm nothing\nls\n")
    result = subprocess.run(
        [sys.executable, "-m", "sshviz", "connect", f"{USER}@127.0.0.1", "-p", str(sshd.port),
         "-i", str(user_key[0]), "--known-hosts", str(sshd.known_hosts), "--sftp-batch", str(batch)],
        capture_output=True, text=True, timeout=60, env=ENV)
    assert result.returncode == 1, result.stderr  # stopped at the unprefixed failing rm
    assert (local / "copy.bin").read_bytes() == files["f100000.bin"]
    assert "sftp> rm nothing" in result.stdout and "sftp> ls\n" not in result.stdout
    assert "Traceback" not in result.stderr


def test_sshviz_connect_moves_big_files_whole_and_its_trace_stays_small(sshd, user_key, tmp_path):
    """The whole command, as the speed benchmark runs it (bench/sftp_throughput.py): a file of
    many SFTP requests and many packets each way with AES-GCM, copied byte for byte, while the
    trace keeps only the first bytes of bulk data (so recording it holds no file in memory)."""
    from sshviz.trace.elide import ELIDE_AFTER
    from sshviz.trace.fileformat import load_trace

    [(name, data)] = make_files(tmp_path / "local", [BIG]).items()
    source, up, down = tmp_path / "local" / name, tmp_path / "up.bin", tmp_path / "down.bin"
    batch = tmp_path / "batch"
    batch.write_text(f"put {source} {up}\nget {up} {down}\n")
    trace_path = tmp_path / "trace.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "sshviz", "connect", f"{USER}@127.0.0.1", "-p", str(sshd.port),
         "-i", str(user_key[0]), "--known-hosts", str(sshd.known_hosts), "--cipher",
         "aes128-gcm@openssh.com", "--sftp-batch", str(batch), "--trace", str(trace_path)],
        capture_output=True, text=True, timeout=120, env=ENV)
    assert result.returncode == 0, result.stderr
    assert digest(up) == digest(down) == hashlib.sha256(data).digest()
    trace = load_trace(trace_path)
    assert sum(e.elided for e in trace.events) > 2 * BIG - 2 * ELIDE_AFTER - 2 * 1024 * 1024
    assert trace_path.stat().st_size < BIG // 8


# -- OpenSSH's sftp against the sshviz server ------------------------------------------------------

def run_sftp_batch(args: list[str], commands: str, cwd: Path,
                   openssh: Programs = HOST) -> subprocess.CompletedProcess:
    openssh.require("/usr/bin/sftp")
    return subprocess.run(openssh.argv("/usr/bin/sftp" if openssh is not HOST else "sftp", "-b", "-", *args,
                                       cwd=cwd),
                          input=commands, capture_output=True, text=True, timeout=120, cwd=cwd, env=ENV)


@pytest.fixture
def sshviz_sftp(tmp_path, user_key, openssh):
    """The sshviz server serving tmp_path/served, the sftp options to reach it, and the OpenSSH
    whose sftp is to."""
    root = tmp_path / "served"
    root.mkdir()
    with serve_sftp(root, tmp_path, user_key) as server:
        server.openssh = openssh
        yield server


@contextlib.contextmanager
def serve_sftp(root: Path, tmp_path: Path, user_key, read_only: bool = False):
    config, known_line = sftp_server_config(root, user_key[1], USER, read_only)
    with sshviz_server(lambda: config) as server:
        known = tmp_path / "known_hosts"
        known.write_text(known_line(server.port) + "\n")
        server.root = root
        server.sftp_args = [*sftp_options(server.port, user_key[0], known), f"{USER}@127.0.0.1"]
        yield server
        assert server.internal_errors() == []


def stdio_args(root: Path, read_only: bool = False) -> list[str]:
    command = f"{sys.executable} -m sshviz.net.sftp_stdio --root {root}" + (" --read-only" if read_only else "")
    return ["-D", command]


def exercise_openssh_sftp(args, root: Path, tmp_path: Path, openssh: Programs = HOST):
    local = tmp_path / "local"
    files = make_files(local, SIZES + [BIG])
    back = tmp_path / "back"
    back.mkdir()
    puts = "".join(f"put {name}\n" for name in files)
    gets = "".join(f"get {name} {back}/{name}\n" for name in files)
    result = run_sftp_batch(args, f"lcd {local}\nmkdir d\ncd d\n{puts}ls -l\n{gets}"
                                  f"rename f1.bin moved.bin\nsymlink moved.bin link\nln link hard\n"
                                  f"rm f0.bin\nmkdir empty\nrmdir empty\ndf\n", tmp_path, openssh)
    assert result.returncode == 0, result.stdout + result.stderr
    for name, data in files.items():
        assert digest(back / name) == hashlib.sha256(data).digest(), name
    served = root / "d"
    assert sorted(os.listdir(served)) == sorted(
        [n for n in files if n not in ("f1.bin", "f0.bin")] + ["moved.bin", "link", "hard"])
    assert os.readlink(served / "link") == "moved.bin"
    assert (served / "f3145729.bin").read_bytes() == files["f3145729.bin"]
    assert f"f{BIG}.bin" in result.stdout  # ls -l listed it


def test_openssh_sftp_batch_against_sshviz_serve(sshviz_sftp, tmp_path):
    exercise_openssh_sftp(sshviz_sftp.sftp_args, sshviz_sftp.root, tmp_path, sshviz_sftp.openssh)


def test_openssh_sftp_over_stdio_against_sshviz_server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    exercise_openssh_sftp(stdio_args(root), root, tmp_path)


def test_openssh_sftp_recursive_put_and_get(sshviz_sftp, tmp_path):
    tree = tmp_path / "tree"
    make_files(tree / "a" / "b", [10, 20])
    make_files(tree, [5])
    result = run_sftp_batch(sshviz_sftp.sftp_args, f"put -r {tree} up\nget -r up {tmp_path}/down\n",
                            tmp_path, sshviz_sftp.openssh)
    assert result.returncode == 0, result.stderr
    for path in tree.rglob("*.bin"):
        relative = path.relative_to(tree)
        assert (sshviz_sftp.root / "up" / relative).read_bytes() == path.read_bytes()
        assert (tmp_path / "down" / relative).read_bytes() == path.read_bytes()


ROOT_CHANGES = ["chmod 000 /", "chmod 000 .", "chown 0 /", "chgrp 0 .", "chmod 700 /..",
                "rename / x", "rename . x", "rm /", "rmdir .", "rmdir /"]
ROOT_REFUSALS = """\
remote setstat "/": Permission denied
remote setstat "/.": Permission denied
remote setstat "/": Permission denied
remote setstat "/.": Permission denied
remote setstat "/..": No such file or directory
remote rename "/" to "/x": Permission denied
remote rename "/." to "/x": Permission denied
remote delete /: Permission denied
remote rmdir "/.": Permission denied
remote rmdir "/": Permission denied
"""


@pytest.mark.parametrize("over", ["ssh", "stdio"])
def test_openssh_sftp_cannot_change_the_root(over, sshviz_sftp, tmp_path):
    """chmod 000 on the served root would lock every user out of it: each change to the root
    is refused, and the session goes on."""
    root = sshviz_sftp.root
    if over == "stdio" and sshviz_sftp.openssh is not HOST:
        pytest.skip("the root filesystem has no Python to run sshviz's stdio server")
    args = sshviz_sftp.sftp_args if over == "ssh" else stdio_args(root)
    os.chmod(root, 0o755)
    before = os.stat(root)
    batch = "".join(f"-{command}\n" for command in ROOT_CHANGES) + "mkdir sub\nchmod 700 sub\nls\n"
    result = run_sftp_batch(args, batch, tmp_path, sshviz_sftp.openssh)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ROOT_REFUSALS
    assert result.stdout.endswith("sftp> ls\nsub  \n")
    after = os.stat(root)
    assert (after.st_mode, after.st_uid, after.st_gid) == (before.st_mode, before.st_uid, before.st_gid)
    assert os.stat(root / "sub").st_mode & 0o777 == 0o700


# -- confinement, tried with OpenSSH's own client --------------------------------------------------

@pytest.fixture
def jail(tmp_path):
    """A served root with a secret beside it and links that point out of it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("the secret\n")
    root = tmp_path / "jail"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "inside.txt").write_text("inside\n")
    os.symlink("../outside", root / "escape")  # relative link out of the root
    os.symlink(str(outside), root / "sub" / "abs")  # absolute: means jail/<that path> here
    os.symlink("../../outside/secret.txt", root / "sub" / "deep")
    return root, outside


ESCAPE_COMMANDS = [
    "get ../outside/secret.txt {local}/x",
    "get /../outside/secret.txt {local}/x",
    "get sub/../../outside/secret.txt {local}/x",
    "get escape/secret.txt {local}/x",
    "get sub/abs/secret.txt {local}/x",
    "get sub/deep {local}/x",
    "ls ../outside",
    "ls escape/",
    "ls sub/abs/",
    "put {local}/payload ../outside/planted",
    "put {local}/payload escape/planted",
    "put {local}/payload sub/deep",
    "rename sub/inside.txt ../outside/moved",
    "rm escape/secret.txt",
    "rm ../outside/secret.txt",
    "mkdir ../outside/newdir",
    "mkdir escape/newdir",
    "rmdir ../outside",
    "symlink ../outside/secret.txt sub/link-out",
    "symlink /../../outside sub/link-out2",
    "ln escape/secret.txt hardlink",
    "chmod 777 ../outside/secret.txt",
    "chmod 777 escape/secret.txt",
    "cd ../outside",
    "cd escape",
]


@pytest.mark.parametrize("command", ESCAPE_COMMANDS)
def test_escapes_with_openssh_sftp_cannot_touch_or_detect_the_outside(jail, tmp_path, command):
    """Each escape fails (a link itself, inside the root, may be listed), changes nothing
    outside, and answers exactly the same whether what it aims at exists or not."""
    root, outside = jail
    local = tmp_path / "local"
    local.mkdir()
    (local / "payload").write_text("payload\n")
    line = command.format(local=local) + "\n"
    before = {p: p.read_bytes() if p.is_file() else None for p in outside.rglob("*")}
    result = run_sftp_batch(stdio_args(root), line, tmp_path)
    if not command.startswith("ls "):
        assert result.returncode != 0, result.stdout
        assert "not found" in result.stderr or "No such file" in result.stderr, result.stderr
    assert "the secret" not in result.stdout and "secret.txt" not in result.stdout.replace(line, "")
    assert not (local / "x").exists()
    after = {p: p.read_bytes() if p.is_file() else None for p in outside.rglob("*")}
    assert after == before
    # With nothing outside at all, the answer is the same to the byte.
    outside.rename(tmp_path / "moved-away")
    control = run_sftp_batch(stdio_args(root), line, tmp_path)
    assert (control.returncode, control.stdout, control.stderr) == (
        result.returncode, result.stdout, result.stderr)


def test_escape_over_ssh_with_read_only_server(jail, tmp_path, user_key, openssh):
    root, outside = jail
    with serve_sftp(root, tmp_path, user_key, read_only=True) as server:
        args = server.sftp_args
        escape = run_sftp_batch(args, "get escape/secret.txt\n", tmp_path, openssh)
        assert escape.returncode != 0 and "not found" in escape.stderr
        write = run_sftp_batch(args, "mkdir newdir\n", tmp_path, openssh)
        assert write.returncode != 0 and "Permission denied" in write.stderr
        read = run_sftp_batch(args, f"get sub/inside.txt {tmp_path}/in.txt\n", tmp_path, openssh)
        assert read.returncode == 0 and (tmp_path / "in.txt").read_text() == "inside\n"
    assert sorted(os.listdir(root)) == ["escape", "sub"]
