"""``chainrule playground``: the local web app where a network trains live (needs ``chainrule[playground]``)."""

from __future__ import annotations

import argparse
import socket
import webbrowser

from .pipeline import CLIError

HOST = "127.0.0.1"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("playground", help="a local web app that trains a network live, every number one click away")
    p.add_argument("--port", type=int, default=8765, help="the port on 127.0.0.1 (default 8765)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.set_defaults(run=run)


def bound_socket(port: int) -> socket.socket:
    """A socket bound to 127.0.0.1:port, or a CLIError saying the port is taken."""
    if not 1 <= port <= 65535:
        raise CLIError(f"--port must be from 1 to 65535; received {port}.")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart need not wait out TIME_WAIT
    try:
        sock.bind((HOST, port))
        sock.listen(128)  # connections wait from now on, while the server starts
    except OSError:
        sock.close()
        raise CLIError(f"port {port} on {HOST} is already in use; choose another with --port N.") from None
    return sock


def run(args: argparse.Namespace) -> int:
    from ..playground.serve import serve
    from ..playground.server import check_requirements

    try:
        check_requirements()  # before anything is bound or printed
    except ImportError as err:
        raise CLIError(str(err)) from None
    sock = bound_socket(args.port)
    url = f"http://{HOST}:{args.port}/"

    def started() -> None:
        print(f"chainrule playground: {url}  (Ctrl-C stops it)", flush=True)
        if args.open:
            webbrowser.open(url)

    try:
        serve(sock, started)  # returns once Ctrl-C or SIGTERM has stopped it
    finally:
        sock.close()
    print("chainrule playground: stopped", flush=True)
    return 0
