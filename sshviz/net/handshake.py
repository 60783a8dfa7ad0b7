"""Deadlines for a client's handshake, decided without sockets or timers: the adapter's caller
feeds events and the time, and asks whether the current step is late."""

from __future__ import annotations

from ..events import PacketReceived, PacketSent, PasswordNeeded, PromptsNeeded


class HandshakeWatch:
    """Each step of a client's handshake must end within ``timeout`` seconds: the server's
    version line (from the TCP connection), the key exchange (from the version line), and
    during authentication each answer from the server (from our last request). A server that
    stays silent, drips its banner or stalls mid-exchange is then an error, not a wait forever.
    Time spent by the user typing a password or answers is not counted; nothing after
    authentication is timed (a session may idle)."""

    STEPS = ("version", "kex", "authentication", "done")

    def __init__(self, timeout: float, now: float):
        self.timeout = timeout
        self.step = "version"
        self.deadline: float | None = now + timeout

    def update(self, client, events: list, now: float) -> None:
        """Take what just happened on ``client`` (a ClientConnection)."""
        step = self._step_of(client)
        if step != self.step:
            self.step = step
            self.deadline = None if step == "done" else now + self.timeout
        if step != "authentication":
            return
        for event in events:
            if isinstance(event, (PasswordNeeded, PromptsNeeded)):
                self.deadline = None  # the user is typing
            elif isinstance(event, (PacketSent, PacketReceived)):
                self.deadline = now + self.timeout  # a new request, or an answer: time the next

    @staticmethod
    def _step_of(client) -> str:
        if client.transport.peer_version is None:
            return "version"
        if not client.transport.first_kex_done:
            return "kex"
        return "done" if client.authenticated else "authentication"

    def expired(self, now: float) -> bool:
        return self.deadline is not None and now >= self.deadline

    def message(self, host: str, port: int) -> str:
        """What took too long, for one line."""
        seconds = f"{self.timeout:g} s"
        if self.step == "version":
            return f"{host} port {port} sent no SSH version line in {seconds}"
        if self.step == "kex":
            return f"the key exchange with {host} port {port} did not finish in {seconds}"
        return f"{host} port {port} did not answer authentication in {seconds}"
