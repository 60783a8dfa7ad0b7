"""The SFTP client over TCP with asyncio: ``await open_sftp(...)`` gives an ``AsyncSftp`` whose
methods are the sans-I/O client's, awaited::

    config = ClientConfig(transport, ClientAuthConfig(user="alice", keys=[key]))
    async with await open_sftp("127.0.0.1", 22, config) as sftp:
        await sftp.put(local_fs, "/tmp/a.bin", "a.bin")
        print(await sftp.listdir("."))

Every call runs on the endpoint through ``EndpointProtocol.act`` (so what it queues is sent at
once) and its ``Pending`` is bridged to an asyncio future.
"""

from __future__ import annotations

import asyncio

from ..endpoint import ClientConfig, ClientConnection
from ..events import AuthExhausted, AuthSucceeded, ChannelOpened, ChannelOpenFailed, Disconnected
from ..sftp.client import SftpClient, SftpError
from ..sftp.pending import Pending, spawn
from ..sftp.session import SessionSftp
from ..wire.sftp import StatusCode
from .adapter import EndpointProtocol, open_client


def bridge(pending: Pending) -> asyncio.Future:
    """An asyncio future that settles with ``pending``."""
    future = asyncio.get_running_loop().create_future()

    def settle(done: Pending) -> None:
        if future.done():
            return
        if done.error is not None:
            future.set_exception(done.error)
        else:
            future.set_result(done.value)

    pending.then(settle)
    return future


class AsyncSftp:
    def __init__(self, protocol: EndpointProtocol, session: SessionSftp):
        self.protocol = protocol
        self.session = session

    @property
    def client(self) -> SftpClient:
        return self.session.client

    async def call(self, action, *args, **kwargs):
        """Run ``action`` (returning a Pending, or a coroutine to spawn) on the endpoint."""
        def start():
            result = action(*args, **kwargs)
            return result if isinstance(result, Pending) else spawn(result)
        return await bridge(self.protocol.act(start))

    def __getattr__(self, name: str):
        method = getattr(self.session.client, name)
        if not callable(method):
            return method

        async def call(*args, **kwargs):
            return await self.call(method, *args, **kwargs)
        return call

    async def close(self) -> None:
        """End the SFTP session and the connection."""
        if not self.protocol.closed.done():
            self.protocol.act(self.session.finish)
            self.protocol.act(self.protocol.endpoint.disconnect)
            await self.protocol.closed

    async def __aenter__(self) -> "AsyncSftp":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()


async def open_sftp(host: str, port: int, config: ClientConfig, on_events=None,
                    timeout: float = 30.0) -> AsyncSftp:
    """Connect, authenticate, open a session and start SFTP. ``on_events(protocol, events)``
    sees every event too (for printing or recording a trace). Raises SftpError or OSError."""
    client = ClientConnection(config)
    loop = asyncio.get_running_loop()
    opened: asyncio.Future = loop.create_future()
    session: list[SessionSftp] = []

    def events(protocol: EndpointProtocol, batch: list) -> None:
        if on_events is not None:
            on_events(protocol, batch)
        for event in batch:
            if session and session[0].handle(event):
                continue
            if isinstance(event, AuthSucceeded):
                channel = client.open_session()
                session.append(SessionSftp(client, channel))
            elif isinstance(event, ChannelOpened) and session and event.channel == session[0].channel:
                session[0].start().then(lambda p: None)
                if not opened.done():
                    opened.set_result(None)
            elif isinstance(event, (ChannelOpenFailed, AuthExhausted, Disconnected)) and not opened.done():
                reason = getattr(event, "description", None) or "authentication failed"
                opened.set_exception(SftpError(StatusCode.NO_CONNECTION, f"cannot start SFTP: {reason}"))

    protocol = await open_client(host, port, client, events, timeout=timeout)
    try:
        await asyncio.wait_for(opened, timeout)
        await bridge(session[0].ready)
    except BaseException:
        protocol.transport.close()
        raise
    return AsyncSftp(protocol, session[0])
