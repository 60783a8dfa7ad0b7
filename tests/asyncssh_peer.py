"""asyncssh as the peer: a server class that lets in the holder of one key, for the interop tests
and bench/session.py."""

from __future__ import annotations


def asyncssh_server_accepting(asyncssh, public_key_line: str):
    """An ``asyncssh.SSHServer`` class that lets in any user holding the key whose OpenSSH public
    line (``ssh-ed25519 AAAA...``) is ``public_key_line``."""
    wanted = public_key_line.split()[1].encode()

    class Server(asyncssh.SSHServer):
        def begin_auth(self, username):
            return True

        def public_key_auth_supported(self):
            return True

        def validate_public_key(self, username, key):
            return key.export_public_key("openssh").split()[1] == wanted

    return Server
