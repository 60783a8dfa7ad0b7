"""SSH_FXP_SYMLINK's two paths come in two orders: the draft's (link, target) and OpenSSH's
(target, link). The server reads each client's packets in the order that client sends to a
server that is not OpenSSH; every real client here must make the link its API promises."""

from __future__ import annotations

import asyncio
import getpass
import os
import subprocess
from pathlib import Path

import pytest

from sshviz.fs.memory import MemoryFS
from sshviz.sftp.symlink_order import client_symlink_order, server_symlink_order
from sshviz.wire.sftp import StatusCode, packet

from .openssh import require, shared_keys, sshviz_server
from .sftp_helpers import DirectServer, sftp_options, sftp_server_config

USER = getpass.getuser()


@pytest.mark.parametrize("version, order", [
    ("SSH-2.0-AsyncSSH_2.24.1", "draft"),
    ("SSH-2.0-libssh_0.10.6", "draft"),
    ("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3", "openssh"),
    ("SSH-2.0-paramiko_5.1.0", "openssh"),
    ("SSH-2.0-sshviz_0.1", "openssh"),
    ("SSH-2.0-libssh2_1.11.1", "openssh"),  # libssh2 is not libssh
    ("SSH-2.0-PuTTY_Release_0.81", "openssh"),
    ("SSH-2.0-Go", "openssh"),
    ("SSH-2.0-OpenSSH_9.6 AsyncSSH_2.24.1", "openssh"),  # the software name is the first word
    ("SSH-2.0-asyncssh_2.24.1", "openssh"),  # as asyncssh spells itself, case and all
    ("SSH-2.0-", "openssh"),
    (None, "openssh"),  # no SSH at all (sftp -D): OpenSSH's sftp is the client
])
def test_the_order_each_client_sends(version, order):
    assert client_symlink_order(version) == order


@pytest.mark.parametrize("version, first, second", [
    ("SSH-2.0-OpenSSH_9.2p1", "../docs/a.txt", "/links/l"),  # target, link
    ("SSH-2.0-AsyncSSH_2.24.1", "/links/l", "../docs/a.txt"),  # link, target
])
def test_the_server_reads_the_paths_in_the_clients_order(version, first, second):
    fs = MemoryFS()
    fs.mkdir("/docs")
    fs.mkdir("/links")
    fs.write_file("/docs/a.txt", b"a\n")
    server = DirectServer(fs, client_version=version)
    # The catalog names the fields in OpenSSH's order: targetpath is whatever came first.
    reply = server.request("SYMLINK", id=1, targetpath=first, linkpath=second)
    assert (reply.spec.name, reply["code"]) == ("STATUS", StatusCode.OK)
    assert fs.readlink("/links/l") == "../docs/a.txt"
    assert [name for name, _ in fs.listdir("/links")] == ["l"]


# -- real clients against the sshviz server over TCP ----------------------------------------------

def symlink_root(tmp_path: Path) -> Path:
    """tmp_path/root, with docs/a.txt to link to and links/ to make the links in."""
    root = tmp_path / "root"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "a.txt").write_text("a\n")
    (root / "links").mkdir()
    return root


@pytest.fixture
def served(tmp_path):
    """The sshviz server on loopback serving tmp_path/root (with docs/a.txt and links/), and
    what a client needs to log in."""
    require("ssh-keygen")
    root = symlink_root(tmp_path)
    key = shared_keys() / "user_ed25519"
    config, known_line = sftp_server_config(root, Path(str(key) + ".pub").read_text().strip(), USER)
    with sshviz_server(lambda: config) as server:
        known = tmp_path / "known_hosts"
        known.write_text(known_line(server.port) + "\n")
        server.root, server.key, server.known = root, key, known
        yield server
        assert server.internal_errors() == []


def link_made(root: Path) -> tuple[list[str], str]:
    names = sorted(os.listdir(root / "links"))
    return names, os.readlink(root / "links" / names[0]) if names else ""


@pytest.mark.interop
def test_openssh_sftp_ln_s(served, tmp_path):
    """sftp's ``ln -s oldpath newpath`` makes newpath point at oldpath."""
    require("sftp")
    result = subprocess.run(["sftp", "-b", "-", *sftp_options(served.port, served.key, served.known),
                             f"{USER}@127.0.0.1"], input="ln -s /docs/a.txt /links/l\n",
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert link_made(served.root) == (["l"], "../docs/a.txt")


@pytest.mark.interop
def test_paramiko_symlink(served):
    """paramiko: ``symlink(source, dest)`` makes dest point at source."""
    paramiko = pytest.importorskip("paramiko")
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # a throwaway loopback server
    client.connect("127.0.0.1", served.port, username=USER, key_filename=str(served.key),
                   look_for_keys=False, allow_agent=False, timeout=30)
    try:
        assert client.get_transport().remote_version.startswith("SSH-2.0-sshviz_")
        sftp = client.open_sftp()
        sftp.symlink("/docs/a.txt", "/links/l")
        assert sftp.readlink("/links/l") == "../docs/a.txt"
        sftp.close()
    finally:
        client.close()
    assert link_made(served.root) == (["l"], "../docs/a.txt")


@pytest.mark.interop
def test_asyncssh_symlink(served):
    """asyncssh: ``symlink(oldpath, newpath)`` makes newpath point at oldpath. It sends the
    draft's order to this server, which does not call itself OpenSSH."""
    asyncssh = pytest.importorskip("asyncssh")

    async def main():
        async with asyncssh.connect("127.0.0.1", served.port, username=USER, known_hosts=None,
                                    client_keys=[str(served.key)]) as conn:
            assert conn.get_extra_info("client_version").startswith("SSH-2.0-AsyncSSH_")
            async with conn.start_sftp_client() as sftp:
                await sftp.symlink("/docs/a.txt", "/links/l")
                return await sftp.readlink("/links/l")

    assert asyncio.run(asyncio.wait_for(main(), 60)) == "../docs/a.txt"
    assert link_made(served.root) == (["l"], "../docs/a.txt")


# -- the sshviz client against other servers -------------------------------------------------------

@pytest.mark.parametrize("version, order", [
    ("SSH-2.0-AsyncSSH_2.24.1", "draft"),  # reads the draft's order unless the client names
    ("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3", "openssh"),  # OpenSSH or paramiko
    ("SSH-2.0-sshviz_0.1", "openssh"),
    ("SSH-2.0-paramiko_5.1.0", "openssh"),
    (None, "openssh"),
])
def test_the_order_each_server_reads_from_sshviz(version, order):
    assert server_symlink_order(version) == order


@pytest.mark.interop
def test_sshviz_client_symlink_against_asyncssh_server(tmp_path):
    """asyncssh's server reads the draft's order from a client that names neither OpenSSH nor
    paramiko: the sshviz client sends it that order, and the link is the one asked for."""
    asyncssh = pytest.importorskip("asyncssh")
    from sshviz.auth.client import ClientAuthConfig
    from sshviz.crypto.keys import PrivateKey
    from sshviz.endpoint import ClientConfig
    from sshviz.net.sftp import open_sftp
    from sshviz.transport.transport import TransportConfig

    from .asyncssh_peer import asyncssh_server_accepting
    from .openssh import free_port

    root = symlink_root(tmp_path)
    user_key = PrivateKey.generate("ssh-ed25519")

    Server = asyncssh_server_accepting(asyncssh, user_key.public.openssh())

    async def main():
        port = free_port()
        server = await asyncssh.create_server(
            Server, "127.0.0.1", port, server_host_keys=[asyncssh.generate_private_key("ssh-ed25519")],
            sftp_factory=lambda channel: asyncssh.SFTPServer(channel, chroot=os.fsencode(root)))
        try:
            config = ClientConfig(TransportConfig(verify_host_key=lambda key: ("known", "test server"),
                                                  host_label="127.0.0.1"),
                                  ClientAuthConfig(user="alice", keys=[user_key]))
            sftp = await open_sftp("127.0.0.1", port, config)
            async with sftp:
                # (asyncssh's chroot resolves READLINK's answer from its own directory: the
                # link is read on disk instead.)
                await sftp.symlink("../docs/a.txt", "/links/l")
        finally:
            server.close()

    asyncio.run(asyncio.wait_for(main(), 60))
    assert link_made(root) == (["l"], "../docs/a.txt")
