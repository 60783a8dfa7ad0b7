"""SFTP version 3 on the SSH engine, sans-I/O (the messages are declared in wire/sftp.py).

- ``stream.SftpStreamDecoder``: a channel's bytes in, decoded SFTP packets out;
- ``server.sftp_subsystem(user, fs, client_version)``: the server, a session program for
  ServerConfig.subsystems;
- ``client.SftpClient``: the client; operations return ``pending.Pending`` results;
- ``session.SessionSftp``: the client on a ClientConnection's session channel;
- ``commands.SftpShell``: ls, get, put, ... for the CLI, batch files and scenarios;
- ``symlink_order``: in which order a peer puts SSH_FXP_SYMLINK's paths, told by its version line;
- the client over TCP and the server on stdin/stdout (sftp -D) are adapters, in ``sshviz.net``
  (``sftp.open_sftp``, ``sftp_stdio``).
"""
