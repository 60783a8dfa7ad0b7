"""``sshviz watch``: a read-only UI on a running ``sshviz serve``, from the feed it publishes:
the same connection list and ladders as serve's own UI, as the sessions happen."""

from __future__ import annotations

from pathlib import Path

from .common import CLIError, feed_path


def register(sub) -> None:
    parser = sub.add_parser(
        "watch", help="watch a running `sshviz serve`: its live sessions, read-only",
        description="Opens the connection list and ladders of a running `sshviz serve` of yours, "
                    "from the feed it publishes (a Unix socket only its user can open): the sessions "
                    "so far, then each message as it happens. Nothing here changes the server; q "
                    "leaves the server running. v saves a connection as a trace.")
    parser.add_argument("address", nargs="?", default="2222", metavar="ADDRESS",
                        help="the feed: serve's port (its default feed, as serve prints it) or the "
                             "path given to serve --feed (default: %(default)s)")
    parser.set_defaults(func=watch)


def feed_of(address: str) -> Path:
    """A port number names serve's default feed for that port; anything else is a path."""
    return feed_path(int(address)) if address.isdigit() else Path(address)


def watch(args) -> int:
    from ..net.feed import FeedPathError, connect_feed
    from ..tui import run_live, terminal_attached

    path = feed_of(args.address)
    try:
        sock = connect_feed(path)
    except FeedPathError as exc:
        raise CLIError(str(exc), 1) from None
    if not terminal_attached():
        sock.close()
        raise CLIError("the watch UI needs a terminal, and this is not one", 2)
    live, follow = watcher(sock, path)
    return run_live(live, follow, title=f"watching {path}", in_thread=True)


def watcher(sock, path: Path):
    """The LiveConnections a watcher fills and the coroutine (for LiveApp) that fills it from
    ``sock`` until the feed ends; then one line in the UI says why."""
    from ..net.feed import FeedClosed, read_feed
    from ..presentation.feed import FeedError, FeedReader, FeedRefused
    from ..presentation.live import LiveConnections

    live = LiveConnections("server", "serve", elide_after=None)  # events come shortened

    async def follow(app) -> None:
        title = str(path)

        def show_title(text: str) -> None:
            nonlocal title
            title = text
            app.show_listening(f"watching: {text}")

        reader = FeedReader(live, on_title=show_title)
        try:
            await read_feed(sock, reader.take)
            ended = "the feed ended"
        except (FeedClosed, FeedRefused) as exc:
            ended = str(exc)
        except FeedError as exc:
            ended = f"the feed from {path} is damaged ({exc}); stopped reading it"
        except OSError as exc:
            ended = f"the feed from {path} failed: {exc.strerror or exc}"
        # The title said what the server listened on: no longer true, so it says so too.
        app.show_listening(f"{ended} · was {title.removeprefix('listening on ')}")
        app.from_server(app.ended, f"{ended}: what came stays here (q quits)", True)

    return live, follow
