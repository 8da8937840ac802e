"""Output folders: checked before a run, written beside the old one, and swapped in whole.

A run writes into a fresh folder beside ``--out`` and moves it into place with one rename once everything is
written. With ``--force`` the folder already there is first taken away (one rename) and removed once the new
one is in; files in it that no run writes (a user's notes) are carried over by hard links. Two runs forced
into one folder at once therefore leave one run's files, never a mix: the later rename wins whole.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


class CLIError(Exception):
    """A user mistake: printed as one line, exit status 2."""


RUN_FILES = re.compile(
    r"model\.npz|model\.preprocess\.json|history\.(json|csv)|replay\.html|results\.(csv|json)|.*\.png"
)
"""The names a run writes: never carried over from the folder it replaces."""


def check_out(out: Path, force: bool) -> None:
    """Refuse an output folder that is a file, that holds something already (unless ``force``), or, to be
    replaced, holds folders of its own."""
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {out} is a file, not a folder.")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not force:
        raise CLIError(f"{out} already exists and is not empty; pass --force to replace it, or choose --out.")
    inner = sorted(p.name for p in out.iterdir() if p.is_dir())
    if inner:
        raise CLIError(
            f"--force replaces the run folder {out}, but it holds folders ({', '.join(inner[:3])}); move them out, "
            "or choose another --out."
        )


@contextlib.contextmanager
def staged(out: Path, force: bool) -> Iterator[Path]:
    """A fresh folder beside ``out`` to write the results into, swapped in whole once all are written.

    If anything fails, the staging folder and any parent folders made for it are removed, so a failed run
    leaves nothing behind; a folder that existed before the run is left as it was.
    """
    made = [p for p in (out.parent, *out.parent.parents) if not p.exists()]  # deepest first
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        yield stage
        check_out(out, force)  # again: the folder may have appeared while training
        _swap_in(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        for folder in made:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if still empty
        raise


def _swap_in(stage: Path, out: Path) -> None:
    """Rename ``stage`` to ``out``; where a folder is in the way, take it away first (carrying over its files
    that no run writes) and try again, then remove what was taken away."""
    taken: list[Path] = []
    try:
        for _ in range(100):
            try:
                stage.rename(out)  # one rename: onto nothing, or onto an empty folder
                return
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            try:
                out.replace(old)  # the folder in the way (perhaps another run's, just swapped in) moves aside whole
            except FileNotFoundError:
                old.rmdir()
                continue
            taken.append(old)
            _carry_over(old, stage)
        raise OSError(f"{out} kept changing while this run was swapping its files in; try again.")
    finally:
        for old in taken:
            shutil.rmtree(old, ignore_errors=True)


def _carry_over(old: Path, stage: Path) -> None:
    """Hard-link into ``stage`` the plain files of ``old`` that no run writes and ``stage`` does not hold."""
    for f in old.iterdir():
        if f.is_file() and not RUN_FILES.fullmatch(f.name) and not (stage / f.name).exists():
            try:
                os.link(f, stage / f.name)
            except OSError:
                shutil.copy2(f, stage / f.name)
