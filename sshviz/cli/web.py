"""``sshviz web``: the sshviz UI in web browsers, one session (an app process) per tab, for a
class that follows along with nothing installed."""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import signal
import sys
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from .common import port_type, state_dir
from .errors import CLIError
from .exposure import exposure_warning
from .serve import positive_int, say

TITLE = "sshviz"


def register(sub) -> None:
    parser = sub.add_parser(
        "web", help="serve the sshviz UI to web browsers",
        description="Serve the sshviz UI to web browsers: each tab gets a session of its own (a "
                    "process on this machine running the demo), drawn in the page. Nothing the page "
                    "loads comes from another server, so it works on a classroom network with no "
                    "internet. A page's address may name what it opens: /?lesson=NAME (a lesson, "
                    "e.g. 01-ssh-at-a-glance), /?attack=NAME (an attack of the attack lab) or "
                    "/?replay=NAME (a sample trace); plain / is the demo. Each browser's lesson "
                    "progress is its own. "
                    "Files the UI saves (ctrl+s screenshots) are downloaded by the browser.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: %(default)s, this machine only; 0.0.0.0 "
                             "for a classroom network)")
    parser.add_argument("--port", type=port_type(0), default=8000,
                        help="port (default: %(default)s; 0: any free port)")
    parser.add_argument("--public-url", metavar="URL", type=public_url_type,
                        help="the address browsers use to reach this server (http://HOST:PORT, or "
                             "the address of a proxy in front of it): the one to hand out, and the "
                             "one the page's links use (default: the address each browser asked for)")
    parser.add_argument("--max-sessions", metavar="N", type=positive_int, default=30,
                        help="at most N sessions (app processes, about 65 MB each) at once; the "
                             "next tab gets a page saying all are taken (default: %(default)s)")
    parser.add_argument("--watch", metavar="ADDRESS",
                        help="the plain page shows `sshviz watch ADDRESS` instead of the demo: the live "
                             "sessions of your running `sshviz serve` (its port, or the path of its "
                             "--feed), so the class sees its own sessions and each other's; ?lesson=, "
                             "?attack= and ?replay= still open the rest")
    parser.add_argument("--idle-timeout", metavar="SECONDS", type=positive_int, default=900,
                        help="end a session that has had no key pressed for this long "
                             "(default: %(default)s)")
    parser.set_defaults(func=web)


def public_url_type(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// or https:// address such as "
                                         "http://192.0.2.10:8000")
    return text.rstrip("/")


def app_argv(query: Mapping[str, str], watch: Path | None = None) -> list[str]:
    """The command line a tab's session runs, from its page's query: the demo (or, with
    ``watch``, a feed's path, `sshviz watch` on it), a lesson of the course (``lesson=NAME``, its
    file's name), an attack of the attack lab (``attack=NAME``) or a sample trace
    (``replay=NAME``). Only names from those lists are taken, so a page can start nothing else."""
    from ..web.server import Refused

    sshviz = [sys.executable, "-m", "sshviz"]
    unknown = sorted(set(query) - {"attack", "replay", "lesson"})
    if unknown or len(query) > 1:
        raise Refused(f"the page's address may name one of lesson=NAME, attack=NAME or replay=NAME, not "
                      f"{', '.join(unknown or sorted(query))}")
    if "lesson" in query:
        from ..lessons.course import lesson_files

        names = [path.stem for path in lesson_files()]
        if query["lesson"] not in names:
            raise Refused(f"there is no lesson {query['lesson']!r}; the lessons are {', '.join(names)}")
        return [*sshviz, "lesson", query["lesson"]]
    if "attack" in query:
        from ..attacks import ATTACKS

        if query["attack"] not in ATTACKS:
            raise Refused(f"there is no attack {query['attack']!r}; the attacks are {', '.join(ATTACKS)}")
        return [*sshviz, "demo", "--attack", query["attack"]]
    if "replay" in query:
        from ..trace.samples import sample_names

        names = sample_names()
        if query["replay"] not in names:
            raise Refused(f"there is no sample trace {query['replay']!r}; the samples are {', '.join(names)}")
        return [*sshviz, "replay", query["replay"]]
    return [*sshviz, "watch", str(watch)] if watch is not None else sshviz


def browser_environment(browser: str) -> dict[str, str]:
    """A browser's own data and state directories (``browser`` is the id its cookie holds), so
    what a session keeps (progress, its error reports) is that browser's alone."""
    home = state_dir() / "web-browsers" / browser
    return {"XDG_DATA_HOME": str(home / "data"), "XDG_STATE_HOME": str(home / "state")}


def web(args) -> int:
    try:
        return asyncio.run(run_web(args))
    except KeyboardInterrupt:
        return 0


async def run_web(args) -> int:
    try:
        from ..web.server import WebServer
    except ImportError as exc:
        raise CLIError(f"sshviz web needs textual-serve ({exc}): pip install textual-serve") from None

    argv = app_argv
    if args.watch is not None:
        from .watch import feed_of

        # Resolved here, once: each tab's session has data and state directories of its own.
        feed = feed_of(args.watch).absolute()
        argv = functools.partial(app_argv, watch=feed)
        if not feed.exists():
            say(f"sshviz web: no feed at {feed} yet: start `sshviz serve` (tabs opened before it "
                "starts end at once, with the reason)", sys.stderr)
    server = WebServer(argv, title=TITLE, host=args.host, port=args.port, public_url=args.public_url,
                       max_sessions=args.max_sessions, idle_timeout=args.idle_timeout,
                       browser_environment=browser_environment, log=say)
    try:
        port = await server.start()
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise CLIError(f"cannot listen on {args.host} port {args.port}: {reason}", 1) from None
    url = args.public_url or address_url(args.host, port)
    print(f"sshviz web listening on {args.host} port {port}: open {url}/ ({args.max_sessions} sessions at "
          f"most; one with no key pressed for {args.idle_timeout} s ends)", flush=True)
    for line in web_warning(args.host, port, args.public_url):
        say(line, sys.stderr)
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    try:
        await stopping.wait()
    finally:
        await server.stop()
    return 0


def web_warning(host: str, port: int, public_url: str | None) -> list[str]:
    """Loud lines when the server listens beyond this machine, with the address to hand out:
    --public-url when given, else this machine's own addresses."""
    return exposure_warning(host, port, lambda address: f"{public_url or address_url(address, port)}/",
                            what="open sessions in a browser")


def address_url(host: str, port: int) -> str:
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
