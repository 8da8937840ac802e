"""The ``chainrule`` command: train, evaluate, predict, gradcheck, explain, export and list datasets.

``main(argv)`` parses, calls the library and prints; it returns 0 on success and 2 on a user mistake,
printed as one line (``--debug``, before or after the command, shows the traceback). What the library notes
about the data (a ``DataNote``: a column dropped or ignored) is printed as one line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import traceback
import warnings
from collections.abc import Iterator, Sequence

from .._version import __version__
from ..core._guard import DivergenceError
from ..datasets import DataError, DataNote
from ..io import ModelFileError
from .pipeline import CLIError, blas_threads, threads_for

USER_ERRORS = (CLIError, DataError, ModelFileError, DivergenceError, ImportError, OSError, ValueError, TypeError)


def parser() -> argparse.ArgumentParser:
    from . import commands, export, playground, sweep, train

    p = argparse.ArgumentParser(
        prog="chainrule",
        description="Train, check and explain neural networks on NumPy.",
        epilog="train, evaluate, predict, gradcheck, explain and sweep take --threads N to limit the BLAS thread pool "
        "(see COMMAND --help).",
    )
    p.add_argument("--version", action="version", version=f"chainrule {__version__}")
    p.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    train.add_parser(sub)
    commands.add_parsers(sub)
    export.add_parser(sub)
    sweep.add_parser(sub)
    playground.add_parser(sub)
    for command in sub.choices.values():  # --debug after the command too; SUPPRESS keeps one given before it
        command.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help="show the full traceback on errors"
        )
    return p


@contextlib.contextmanager
def notes_printed(command: str) -> Iterator[None]:
    """Print each DataNote raised inside the block as one line on stderr, as it comes; other warnings as usual."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", DataNote)
        show = warnings.showwarning

        def note(message, category, filename, lineno, file=None, line=None):
            if not issubclass(category, DataNote):
                return show(message, category, filename, lineno, file, line)
            print(f"chainrule {command}: note: {' '.join(str(message).split())}", file=sys.stderr)

        warnings.showwarning = note
        yield


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p = parser()
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its usage message
        return int(exc.code or 0)
    if args.command is None:
        p.print_help()
        return 0
    try:
        with blas_threads(threads_for(args)), notes_printed(args.command):
            return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("chainrule: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except MemoryError as exc:  # sizes are checked before they are allocated; this is what is left
        if args.debug:
            traceback.print_exc()
        print(
            f"chainrule {args.command}: error: not enough memory ({exc}); use smaller layers or data.", file=sys.stderr
        )
        return 2
    except USER_ERRORS as exc:
        if args.debug:
            traceback.print_exc()
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"chainrule {args.command}: error: {message}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug, not a user mistake
        if args.debug:
            raise
        print(
            f"chainrule {args.command}: internal error: {type(exc).__name__}: {exc} (run with --debug for the "
            "traceback)",
            file=sys.stderr,
        )
        return 1


__all__ = ["main", "parser", "CLIError"]
