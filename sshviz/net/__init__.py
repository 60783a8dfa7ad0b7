"""asyncio adapters: the only code that touches sockets."""
