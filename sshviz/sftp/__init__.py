"""SFTP version 3 on the SSH engine, sans-I/O (the messages are declared in wire/sftp.py).

- ``stream.SftpStreamDecoder``: a channel's bytes in, decoded SFTP packets out;
- ``server.sftp_subsystem(user, fs, client_version)``: the server, a session program for
  ServerConfig.subsystems;
- ``client.SftpClient``: the client; operations return ``pending.Pending`` results;
- ``session.SessionSftp``: the client on a ClientConnection's session channel;
- ``commands.SftpShell``: ls, get, put, ... for the CLI, batch files and scenarios;
- ``aio.open_sftp``: the client over TCP; ``stdio``: the server on stdin/stdout (sftp -D).
"""
