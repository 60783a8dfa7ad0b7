"""SFTP in an in-process scenario: demo filesystems, and a script that plays a list of
commands (``Scenario.sftp_actions``, e.g. ``["put hello.txt", "ls", "get readme.txt"]``) on
the session channel the ``SessionDriver`` opens, through its ``on_channel_open`` hook."""

from __future__ import annotations

from ..fs.memory import MemoryFS
from .client import SftpError
from .commands import SftpShell
from .pending import Pending, spawn
from .server import sftp_subsystem
from .session import SessionSftp

SERVER_FILES = {
    "/readme.txt": b"Welcome to the sshviz SFTP demo server.\n",
    "/docs/guide.txt": b"Every SFTP request is answered with a STATUS, HANDLE, DATA, NAME or ATTRS.\n",
}
CLIENT_FILES = {
    "/hello.txt": b"Hello, SFTP!\n",
    "/photos/cat.txt": b"=^.^=\n",
}


def demo_filesystem(clock, files: dict[str, bytes]) -> MemoryFS:
    fs = MemoryFS(clock)
    for path, data in files.items():
        parent = path.rsplit("/", 1)[0]
        if parent and not fs.is_dir(parent):
            fs.mkdir(parent, 0o755)
        fs.write_file(path, data)
    return fs


def demo_setup(clock, fs=None, subsystems=None):
    """(server fs, subsystems, client's local fs) for a seeded SFTP run."""
    server_fs = fs if fs is not None else demo_filesystem(clock, SERVER_FILES)
    offered = dict(subsystems or {})
    offered.setdefault("sftp", sftp_subsystem)
    return server_fs, offered, demo_filesystem(clock, CLIENT_FILES)


class SftpScript:
    """Plays ``actions`` once the driver's session channel is open, then ends the session."""

    def __init__(self, actions: list[str], local_fs):
        self.actions = list(actions)
        self.local_fs = local_fs
        self.output: list[str] = []  # what the commands printed, "sftp> ..." lines included
        self.failed: list[str] = []  # the actions that failed
        self.session: SessionSftp | None = None
        self.done = Pending()

    def on_channel_open(self, driver, channel: int) -> None:
        self.session = SessionSftp(driver.client, channel)
        driver.channel_consumer = self.session
        spawn(self._play()).then(self._finished)

    async def _play(self) -> None:
        await self.session.start()
        shell = SftpShell(self.session.client, self.local_fs, "/", out=self.output.append)
        await shell.setup()
        for action in self.actions:
            self.output.append(f"sftp> {action}")
            if not await shell.run(action):
                self.failed.append(action)

    def _finished(self, played: Pending) -> None:
        if played.error is not None:
            message = str(played.error) if isinstance(played.error, SftpError) else repr(played.error)
            self.output.append(f"error: {message}")
            self.failed.append("(session)")
        self.session.finish()
        self.done.resolve(not self.failed)
