"""Connection protocol (RFC 4254): channels, sessions, built-in commands, forwarding."""
