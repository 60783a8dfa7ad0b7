"""Connection protocol messages (RFC 4254, RFC 4335, OpenSSH extensions)."""

from __future__ import annotations

from .codes import OpenFailureReason, enum_names
from .spec import (BOOLEAN, REST, STRING, TEXT, UINT32, Field, MessageGroup, Optional, Repeat,
                   Section, Switch, message)
from .structures import PUBLIC_KEY


def _recipient():
    return Field("recipient_channel", UINT32, "the receiver's channel number")


_TERMINAL_SIZE = (
    Field("width_chars", UINT32, "terminal width, columns"),
    Field("height_rows", UINT32, "terminal height, rows"),
    Field("width_pixels", UINT32, "terminal width, pixels"),
    Field("height_pixels", UINT32, "terminal height, pixels"),
)
_FORWARD = (
    Field("address_to_bind", TEXT, "address the server should listen on"),
    Field("port_to_bind", UINT32, "port the server should listen on (0: any)"),
)
_HOSTKEYS = Section("OpenSSH PROTOCOL 2.5", (
    Repeat("host_keys", (Field("host_key", STRING, "a host key", nested=PUBLIC_KEY),),
           doc="host keys, to the end of the message"),))

GLOBAL_REQUESTS = {
    "tcpip-forward": _FORWARD,
    "cancel-tcpip-forward": _FORWARD,
    "keepalive@openssh.com": (),
    "no-more-sessions@openssh.com": (),
    "hostkeys-00@openssh.com": _HOSTKEYS,
    "hostkeys-prove-00@openssh.com": _HOSTKEYS,
}

CHANNEL_TYPES = {
    "session": (),
    "direct-tcpip": (
        Field("host_to_connect", TEXT, "where the server should connect"),
        Field("port_to_connect", UINT32, "port to connect to"),
        Field("originator_address", TEXT, "where the forwarded connection came from"),
        Field("originator_port", UINT32, "its port"),
    ),
    "forwarded-tcpip": (
        Field("address_connected", TEXT, "the forwarded address that was connected"),
        Field("port_connected", UINT32, "its port"),
        Field("originator_address", TEXT, "where the connection came from"),
        Field("originator_port", UINT32, "its port"),
    ),
    "x11": (
        Field("originator_address", TEXT, "X11 client address"),
        Field("originator_port", UINT32, "its port"),
    ),
}

CHANNEL_REQUESTS = {
    "pty-req": (Field("term", TEXT, "TERM environment value, e.g. xterm-256color"),
                *_TERMINAL_SIZE,
                Field("terminal_modes", STRING, "encoded terminal modes (RFC 4254 8)")),
    "x11-req": (Field("single_connection", BOOLEAN, "forward one connection only"),
                Field("x11_auth_protocol", TEXT, "e.g. MIT-MAGIC-COOKIE-1"),
                Field("x11_auth_cookie", TEXT, "hex cookie"),
                Field("x11_screen_number", UINT32, "screen")),
    "env": (Field("variable_name", TEXT, "environment variable"),
            Field("variable_value", TEXT, "its value")),
    "shell": (),
    "exec": Section("RFC 4254 6.5", (Field("command", TEXT, "the command line to run"),)),
    "subsystem": Section("RFC 4254 6.5", (Field("subsystem_name", TEXT, "e.g. sftp"),)),
    "window-change": _TERMINAL_SIZE,
    "xon-xoff": (Field("client_can_do", BOOLEAN, "client handles flow control"),),
    "signal": (Field("signal_name", TEXT, "signal without SIG, e.g. INT"),),
    "exit-status": Section("RFC 4254 6.10", (Field("exit_status", UINT32, "the command's exit status"),)),
    "exit-signal": Section("RFC 4254 6.10", (Field("signal_name", TEXT, "signal that ended the command"),
                                             Field("core_dumped", BOOLEAN, "a core was dumped"),
                                             Field("error_message", TEXT, "text"),
                                             Field("language_tag", TEXT, "RFC 3066 tag"))),
    "break": (Field("break_length_ms", UINT32, "break length in milliseconds (RFC 4335)"),),
    "auth-agent-req@openssh.com": (),
    "eow@openssh.com": (),
}

class ConnectionMessages(MessageGroup, protocol="connection"):
    """Global requests and channels (RFC 4254)."""

    GLOBAL_REQUEST = message(
        80, "RFC 4254 4", "a request for the whole connection",
        Field("request_name", TEXT, "what is asked"),
        Field("want_reply", BOOLEAN, "the sender waits for SUCCESS or FAILURE"),
        Switch("request_name", GLOBAL_REQUESTS))
    REQUEST_SUCCESS = message(
        81, "RFC 4254 4", "the global request succeeded",
        Optional((Field("response_data", REST, "request-specific data, e.g. the bound port"),)))
    REQUEST_FAILURE = message(
        82, "RFC 4254 4", "the global request failed or is unknown")
    CHANNEL_OPEN = message(
        90, "RFC 4254 5.1", "opens a channel (session, forwarding, ...)",
        Field("channel_type", TEXT, "kind of channel"),
        Field("sender_channel", UINT32, "the sender's number for this channel"),
        Field("initial_window_size", UINT32, "bytes the sender can receive before an adjust"),
        Field("maximum_packet_size", UINT32, "largest data packet the sender accepts"),
        Switch("channel_type", CHANNEL_TYPES))
    CHANNEL_OPEN_CONFIRMATION = message(
        91, "RFC 4254 5.1", "the channel is open",
        _recipient(),
        Field("sender_channel", UINT32, "the sender's number for this channel"),
        Field("initial_window_size", UINT32, "bytes the sender can receive before an adjust"),
        Field("maximum_packet_size", UINT32, "largest data packet the sender accepts"),
        Optional((Field("channel_data", REST, "channel-type specific data"),)))
    CHANNEL_OPEN_FAILURE = message(
        92, "RFC 4254 5.1", "the channel could not be opened",
        _recipient(),
        Field("reason_code", UINT32, "why (RFC 4254 5.1)", names=enum_names(OpenFailureReason)),
        Field("description", TEXT, "human-readable reason"),
        Field("language_tag", TEXT, "RFC 3066 tag", default=""))
    CHANNEL_WINDOW_ADJUST = message(
        93, "RFC 4254 5.2", "the sender may receive this many more bytes",
        _recipient(), Field("bytes_to_add", UINT32, "window increase"))
    CHANNEL_DATA = message(
        94, "RFC 4254 5.2", "data on a channel", _recipient(),
        Field("data", STRING, "the data"))
    CHANNEL_EXTENDED_DATA = message(
        95, "RFC 4254 5.2", "data of another kind (stderr)", _recipient(),
        Field("data_type_code", UINT32, "1 is SSH_EXTENDED_DATA_STDERR"),
        Field("data", STRING, "the data"))
    CHANNEL_EOF = message(
        96, "RFC 4254 5.3", "the sender will send no more data", _recipient())
    CHANNEL_CLOSE = message(
        97, "RFC 4254 5.3", "the channel is closing", _recipient())
    CHANNEL_REQUEST = message(
        98, "RFC 4254 5.4", "a request on a channel (exec, pty, exit-status, ...)",
        _recipient(),
        Field("request_type", TEXT, "what is asked"),
        Field("want_reply", BOOLEAN, "the sender waits for SUCCESS or FAILURE"),
        Switch("request_type", CHANNEL_REQUESTS))
    CHANNEL_SUCCESS = message(
        99, "RFC 4254 5.4", "the channel request succeeded", _recipient())
    CHANNEL_FAILURE = message(
        100, "RFC 4254 5.4", "the channel request failed", _recipient())
