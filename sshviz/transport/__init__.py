"""SSH transport layer: packets, version exchange, algorithm negotiation, key exchange."""
