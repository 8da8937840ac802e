"""One self-contained HTML file: inline CSS, one inline script, and the data as JSON.

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
from pathlib import Path
from typing import Any

from .._archive import atomic_write

CSS = """
:root { --pos: #2563eb; --neg: #dc2626; --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb; --card: #ffffff;
  --bg: #f6f7f9; --focus: #f59e0b; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font-size: 15px; line-height: 1.45; }
main { max-width: 1240px; margin: 0 auto; padding: 16px 20px 40px; }
h1 { font-size: 1.25rem; margin: 4px 0 2px; overflow-wrap: anywhere; }
h2 { font-size: 1.02rem; margin: 0 0 8px; }
.meta { color: var(--muted); margin: 0 0 12px; overflow-wrap: anywhere; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin-bottom: 12px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.stat .label { color: var(--muted); font-size: .8rem; display: block; }
.stat .value { font-size: 1.15rem; font-variant-numeric: tabular-nums; }
.ok { color: #047857; } .bad { color: #b91c1c; }
.toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; margin-bottom: 6px; }
button, select { font: inherit; border: 1px solid #cbd5e1; background: #fff; border-radius: 6px; padding: 4px 12px;
  cursor: pointer; color: var(--ink); }
button[aria-pressed="true"] { background: var(--ink); color: #fff; border-color: var(--ink); }
button:focus-visible, select:focus-visible, input:focus-visible, summary:focus-visible {
  outline: 3px solid var(--focus); outline-offset: 1px; }
.hint { color: var(--muted); font-size: .85rem; }
.diagram { width: 100%; height: auto; max-height: 60vh; display: block; }
.edge .vis { stroke-linecap: round; }
.edge .hit { stroke: transparent; stroke-width: 12; }
.edge:hover .vis, .edge:focus .vis, .edge.active .vis { stroke: var(--focus); }
.edge:focus, .node:focus, .bias:focus { outline: none; }
.label { cursor: default; }
.node:focus rect, .node:focus circle, .bias:focus rect, .node:hover rect, .bias:hover rect, .node:hover circle {
  stroke: var(--focus); stroke-width: 3; }
.pos { stroke: var(--pos); } .neg { stroke: var(--neg); } .zero { stroke: #9ca3af; }
svg text { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; fill: var(--ink); }
svg text.name { font-family: inherit; font-weight: 600; }
svg text.elabel { paint-order: stroke; stroke: #fff; stroke-width: 4px; stroke-linejoin: round; font-size: 11.5px; }
.tip { position: fixed; z-index: 10; max-width: 560px; background: #111827; color: #f9fafb; border-radius: 6px;
  padding: 8px 10px; font: 12.5px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; pointer-events: none;
  white-space: pre-wrap; box-shadow: 0 4px 14px rgba(0,0,0,.25); }
.tip[hidden] { display: none; }
.legend { display: flex; gap: 16px; flex-wrap: wrap; color: var(--muted); font-size: .85rem; margin-top: 4px; }
.swatch { display: inline-block; width: 22px; height: 4px; vertical-align: middle; margin-right: 4px; }
.swatch.dot { width: 11px; height: 11px; border-radius: 50%; }
details summary { cursor: pointer; color: var(--muted); margin: 4px 0; }
.grid { display: grid; grid-template-columns: minmax(0, 1.35fr) minmax(0, 1fr); gap: 12px; align-items: start; }
@media (max-width: 900px) { .grid { grid-template-columns: 1fr; } }
.stack { display: grid; gap: 12px; }
section.card { margin-bottom: 12px; }
.mono, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
pre { margin: 4px 0; white-space: pre-wrap; overflow-wrap: anywhere; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 10px 3px 0; text-align: left; vertical-align: top; }
td.num { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; text-align: right; }
.scroll { overflow-x: auto; }
input[type=range] { width: min(520px, 100%); }
canvas.surface { width: 100%; max-width: 360px; aspect-ratio: 1; display: block; border: 1px solid var(--line); }
canvas.heat { image-rendering: pixelated; border: 1px solid var(--line); max-width: 100%; }
.curve { width: 100%; height: auto; display: block; }
.curve text { font-size: 11px; fill: var(--muted); }
ul.plain { margin: 4px 0; padding-left: 18px; }
.skip { position: absolute; left: -9999px; }
.skip:focus { position: static; display: inline-block; margin-bottom: 6px; }
.after:focus { outline: none; }
.plot { position: relative; padding: 0 0 24px 48px; max-width: 408px; }
.plot canvas.surface { max-width: 100%; }
.tick { position: absolute; font-size: 12px; color: var(--muted); font-variant-numeric: tabular-nums; line-height: 1; }
.tick-x { bottom: 4px; transform: translateX(-50%); }
.tick-y { left: 0; width: 42px; text-align: right; transform: translateY(-50%); }
"""


def json_script(data: Any, element_id: str) -> str:
    """``data`` as JSON in a script element that the browser never runs and that no string can close."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def page(title: str, data: Any, script: str) -> str:
    """The whole page; ``script`` runs (allowed by its SHA-256), nothing else can."""
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    csp = (
        f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; img-src data: blob:; "
        "base-uri 'none'; form-action 'none'"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        f"<title>{html.escape(title)}</title>\n"
        f"<style>{CSS}</style>\n</head>\n<body>\n"
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
