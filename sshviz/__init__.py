"""sshviz: an SSH-2 client and server you can watch, message by message."""

__version__ = "0.1.0"
