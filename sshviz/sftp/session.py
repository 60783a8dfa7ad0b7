"""An ``SftpClient`` on a session channel of a ``ClientConnection``: it asks for the ``sftp``
subsystem, feeds the channel's data to the client and reports its packets as the endpoint's
events. Used the same way by the conductor (through ``SessionDriver``) and by live
connections (through ``sshviz.net.sftp``).
"""

from __future__ import annotations

from ..events import ChannelClosed, ChannelData, ChannelEOF, ChannelRequestDone, Disconnected
from ..wire.sftp import StatusCode
from .client import SftpClient, SftpError
from .pending import Pending

# A receive window that holds many full-size READ replies at once; refilled at half.
SFTP_WINDOW = 8 * 1024 * 1024


class SessionSftp:
    def __init__(self, endpoint, channel: int):
        self.endpoint = endpoint
        self.channel = channel
        connection = endpoint.connection
        self.client = SftpClient(lambda data: connection.send_data(channel, data),
                                 endpoint.events.append, channel,
                                 server_version=endpoint.transport.peer_version)
        self.ready = Pending()  # resolves to the server's extensions
        self.stderr = bytearray()
        window = connection.channels.get(channel)
        if window is not None and window.window_max < SFTP_WINDOW:
            # Our channel was opened with the connection's window; SFTP replies are large.
            window.window_max = max(window.window_max, SFTP_WINDOW)

    def start(self) -> Pending:
        self.endpoint.connection.request(self.channel, "subsystem", subsystem_name="sftp")
        return self.ready

    def handle(self, event) -> bool:
        """Take the events of our channel; True when taken."""
        if getattr(event, "channel", None) != self.channel:
            if isinstance(event, Disconnected):
                self.client.connection_lost(f"disconnected: {event.description}")
                self.ready.fail(SftpError(StatusCode.CONNECTION_LOST, f"disconnected: {event.description}"))
            return False
        if isinstance(event, ChannelData):
            if event.stream == 1:
                self.stderr.extend(event.data[: 4096 - len(self.stderr)])
            else:
                self.client.receive(event.data)
            return True
        if isinstance(event, ChannelRequestDone) and event.request == "subsystem":
            if event.success:
                self.client.init().then(self._initialized)
            else:
                self.ready.fail(SftpError(StatusCode.FAILURE, "the server refused the sftp subsystem"))
            return True
        if isinstance(event, ChannelEOF):
            return True
        if isinstance(event, ChannelClosed):
            reason = "the server closed the SFTP channel"
            if self.stderr:
                reason += ": " + self.stderr.decode("utf-8", "replace").strip()
            self.client.connection_lost(reason)
            self.ready.fail(SftpError(StatusCode.CONNECTION_LOST, reason))
        return False

    def _initialized(self, init: Pending) -> None:
        if init.error is not None:
            self.ready.fail(init.error)
        else:
            self.ready.resolve(init.value)

    def finish(self) -> None:
        """End the session: EOF tells the server we are done; it closes the channel."""
        self.endpoint.connection.send_eof(self.channel)


__all__ = ["SessionSftp", "SFTP_WINDOW"]
