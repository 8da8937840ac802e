"""Self-contained HTML pages: the explain page of one training step, and the training replay.

Each page is one file with its CSS, script and data inline; it makes no network request and
opens from disk in any modern browser. ``Explanation.to_html`` and ``Replay.to_html`` call these.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .html_data import explanation_data
from .html_js import TOOLS_JS
from .html_page import check_target, iframe, page, write_page
from .html_player import PLAYER_JS
from .html_replay import PLOTS_JS
from .html_svg import DIAGRAM_JS
from .html_view import VIEW_JS

if TYPE_CHECKING:
    from .explanation import Explanation

__all__ = ["explanation_html", "iframe", "replay_html", "write_explanation", "write_replay"]

NOTEBOOK_HEIGHT = {"explain": 900, "replay": 1150}
"""Height in pixels of the iframe that shows a page in a notebook."""


def script(kind: str) -> str:
    """The page's one script: the shared explain view, the replay player where needed, and the entry point."""
    parts = [TOOLS_JS, DIAGRAM_JS, VIEW_JS] + ([PLOTS_JS, PLAYER_JS] if kind == "replay" else [])
    start = "renderReplay" if kind == "replay" else "renderExplain"
    return (
        '(function () {\n"use strict";\n'
        + "".join(parts)
        + 'const DATA = JSON.parse(document.getElementById("cr-data").textContent);\n'
        + f'{start}(document.getElementById("app"), DATA);\n}})();\n'
    )


def explanation_html(
    ex: Explanation,
    precision: int = 5,
    feature_names: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
) -> str:
    """The explain page of ``ex`` as one HTML string."""
    if isinstance(precision, bool) or not isinstance(precision, int) or not 1 <= precision <= 17:
        raise ValueError(f"precision must be a whole number of digits from 1 to 17; received precision={precision!r}.")
    data = explanation_data(ex, precision, feature_names, class_names)
    return page(data["title"], data, script("explain"))


def write_explanation(
    ex: Explanation,
    path: str | os.PathLike,
    precision: int = 5,
    feature_names: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
) -> Path:
    check_target(path)  # a missing folder fails before the page is built
    return write_page(path, explanation_html(ex, precision, feature_names, class_names))


def replay_html(data: dict[str, Any]) -> str:
    """The replay page for the data a ``chainrule.Replay`` recorded."""
    return page(data["title"], data, script("replay"))


def write_replay(data: dict[str, Any], path: str | os.PathLike) -> Path:
    check_target(path)
    return write_page(path, replay_html(data))
