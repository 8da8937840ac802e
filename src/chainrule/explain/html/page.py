"""One self-contained HTML file: inline CSS, one inline script, and the data as JSON.

The style sheet and the scripts are real files in ``assets/``, shipped as package data and inlined here.

Nothing is fetched: the page's Content-Security-Policy is ``default-src 'none'`` and allows
only its own script, by hash, so even a string that slipped past the escaping could neither
run nor load anything. The data sits in a ``<script type="application/json">`` element with
``<``, ``>`` and ``&`` written as ``\\u003c``, ``\\u003e`` and ``\\u0026``, and the script
puts every user string into the page with ``textContent``, never as HTML.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..._archive import atomic_write


@cache
def asset(name: str) -> str:
    """The text of one of the files in ``assets/`` (package data): a script or the style sheet."""
    return resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")


def json_script(data: Any, element_id: str) -> str:
    """``data`` as JSON in a script element that the browser never runs and that no string can close."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def page(title: str, data: Any, script: str, connect: str | None = None, style: str = "") -> str:
    """The whole page; ``script`` runs (allowed by its SHA-256), nothing else can.

    ``connect`` opens the CSP's connect-src (the playground's ``'self'``, for its WebSocket); ``style`` is
    added after the shared style sheet.
    """
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    csp = (
        f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; img-src data: blob:; "
        "base-uri 'none'; form-action 'none'" + (f"; connect-src {connect}" if connect else "")
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        f"<title>{html.escape(title)}</title>\n"
        f"<style>{asset('page.css')}{style}</style>\n</head>\n<body>\n"
        '<main id="app"><noscript>This page draws its content with JavaScript.</noscript></main>\n'
        f"{json_script(data, 'cr-data')}\n"
        f"<script>{script}</script>\n</body>\n</html>\n"
    )


def check_target(path: str | os.PathLike) -> Path:
    """The file to write, checked before anything is computed or written: its folder must exist."""
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(f"cannot write the page to {str(target)!r}: it is a folder; give a file name.")
    if not target.parent.is_dir():
        raise FileNotFoundError(
            f"cannot write the page to {str(target)!r}: the folder {str(target.parent)!r} does not exist; "
            "create it first."
        )
    return target


def write_page(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (a temporary file beside it, then a rename); return the path."""
    target = check_target(path)
    atomic_write(target, lambda fh: fh.write(text.encode("utf-8")), suffix=".html.tmp")
    return target


def iframe(text: str, height: int) -> str:
    """The page for a notebook: a sandboxed iframe whose ``srcdoc`` is the whole page (scripts and downloads only)."""
    return (
        '<div class="chainrule-page">'
        f'<iframe srcdoc="{html.escape(text, quote=True)}" title="chainrule page" '
        f'style="width: 100%; height: {int(height)}px; border: 1px solid #e5e7eb; border-radius: 6px;" '
        'sandbox="allow-scripts allow-downloads"></iframe></div>'
    )
