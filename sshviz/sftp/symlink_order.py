"""SSH_FXP_SYMLINK's two paths come in two orders, and which one a peer uses is told only by
its identification line ("SSH-2.0-softwareversion comments").

draft-ietf-secsh-filexfer-02 (section 6.10) sends linkpath, then targetpath. OpenSSH's
sftp-server reads them the other way round (OpenSSH's PROTOCOL, section 4.1, "sftp: Reversal of
arguments to SSH_FXP_SYMLINK"), and OpenSSH's sftp, paramiko and sshviz's client send OpenSSH's
order to every server. A few implementations look at the peer's version string instead:

- asyncssh, as a client, sends the draft's order to a server whose version names neither
  OpenSSH nor paramiko; as a server it reads the draft's order from such a client;
- libssh, as a client, sends the draft's order to a server that does not name OpenSSH (from its
  source; not tested here).

sshviz names itself neither, so it meets them with the draft's order: it reads that order from
their clients and sends it to asyncssh's server. Everyone else gets OpenSSH's order, the one
most servers read and most clients send. Each implementation is known by the first word of its
software version.
"""

from __future__ import annotations

DRAFT = "draft"  # link, then target
OPENSSH = "openssh"  # target, then link

DRAFT_ORDER_CLIENTS = ("AsyncSSH_", "libssh_")  # send the draft's order to sshviz
DRAFT_ORDER_SERVERS = ("AsyncSSH_",)  # read the draft's order from sshviz


def software(identification: str | None) -> str:
    """The software version of an identification line: "OpenSSH_9.2p1" of
    "SSH-2.0-OpenSSH_9.2p1 Debian-2"; "" for None (no SSH, as under ``sftp -D``)."""
    return (identification or "").split("-", 2)[-1].split(" ", 1)[0]


def client_symlink_order(client_version: str | None) -> str:
    """The order in which the client that sent this identification line sends SYMLINK's
    paths to the sshviz server."""
    return DRAFT if software(client_version).startswith(DRAFT_ORDER_CLIENTS) else OPENSSH


def server_symlink_order(server_version: str | None) -> str:
    """The order in which the server that sent this identification line reads SYMLINK's paths
    from the sshviz client."""
    return DRAFT if software(server_version).startswith(DRAFT_ORDER_SERVERS) else OPENSSH


__all__ = ["DRAFT", "OPENSSH", "client_symlink_order", "server_symlink_order", "software"]
