"""The sshviz SFTP server on standard input and output, like OpenSSH's sftp-server, so that
OpenSSH's client can talk to it with no SSH in between::

    sftp -D "python -m sshviz.net.sftp_stdio --root DIR [--read-only]"
"""

from __future__ import annotations

import argparse
import os
import sys

from ..fs.confined import ConfinedFS
from ..sftp.server import SftpServer

READ_SIZE = 256 * 1024


class StdioChannel:
    """The ChannelIO interface on file descriptors: output is written at once (blocking)."""

    channel_id = 0
    pending_bytes = 0

    def __init__(self, out_fd: int, err_fd: int):
        self.out_fd = out_fd
        self.err_fd = err_fd
        self.exit_status: int | None = None

    @staticmethod
    def _write_all(fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]

    def write(self, data: bytes) -> None:
        self._write_all(self.out_fd, data)

    def write_stderr(self, data: bytes) -> None:
        self._write_all(self.err_fd, data)

    def exit(self, status: int) -> None:
        self.exit_status = status

    def report(self, event) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def serve_stdio(fs, in_fd: int = 0, out_fd: int = 1, err_fd: int = 2, user: str = "") -> int:
    channel = StdioChannel(out_fd, err_fd)
    server = SftpServer(user, fs)
    server.start(channel)
    while channel.exit_status is None:
        data = os.read(in_fd, READ_SIZE)
        if not data:
            server.eof()
            break
        server.data(data)
    server.closed()
    return channel.exit_status or 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sshviz.net.sftp_stdio",
                                     description="The sshviz SFTP server on stdin/stdout (for sftp -D).")
    parser.add_argument("--root", required=True, metavar="DIR", help="directory served as /")
    parser.add_argument("--read-only", action="store_true", help="refuse every change")
    args = parser.parse_args(argv)
    try:
        fs = ConfinedFS(args.root, read_only=args.read_only)
    except FileNotFoundError as exc:
        print(f"sshviz sftp: --root: {exc}", file=sys.stderr)
        return 2
    try:
        return serve_stdio(fs, user=os.environ.get("USER", ""))
    except (BrokenPipeError, KeyboardInterrupt):
        return 0


if __name__ == "__main__":
    sys.exit(main())
