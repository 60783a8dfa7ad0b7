"""Saying loudly that a server listens beyond this machine, and what to hand out to reach it
(`serve`'s ssh command, `web`'s address)."""

from __future__ import annotations

import ipaddress
from typing import Callable

EVERY_ADDRESS = ("0.0.0.0", "::", "")


def is_loopback(host: str) -> bool:
    """A loopback address, or 'localhost'."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, port: int, hand_out: Callable[[str], str], what: str = "connect") -> list[str]:
    """Loud lines when a server listens on ``host`` beyond this machine: ``hand_out(address)``
    is what to give people for one of the addresses it can be reached by ("THIS-MACHINE"
    when none is known)."""
    if is_loopback(host):
        return []
    addresses = [host] if host not in EVERY_ADDRESS else own_addresses()
    bar = "!" * 78
    return [bar,
            f"!! listening on {host or 'every address'} port {port}: anyone who can reach this machine "
            f"can {what}",
            *[f"!! hand out: {hand_out(address)}" for address in addresses or ["THIS-MACHINE"]],
            bar]


def own_addresses() -> list[str]:
    """This machine's addresses others may reach it by (no packet is sent to find them)."""
    import socket

    found = []
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            address = info[4][0]
            if not ipaddress.ip_address(address).is_loopback and address not in found:
                found.append(address)
    except OSError:
        pass
    return found
