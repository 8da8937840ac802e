"""Self-contained HTML pages: the explain page of one training step, and the training replay.

Each page is one file with its CSS, script and data inline; it makes no network request and
opens from disk in any modern browser. ``Explanation.to_html`` and ``Replay.to_html`` call these.

    data.py     the numbers a page shows, formatted in Python by the text rendering's own ``num``
    page.py     the page around them: CSS, the script (allowed by its hash) and the JSON data
    assets/     page.css and the scripts: tools.js (helpers and tooltips), diagram.js (the network as SVG),
                conv.js (the kernel sliding over a Conv1D's input, pooling windows), view.js (the explain view),
                plots.js (loss curve, decision boundary, heatmaps), player.js (replay)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .data import drawable, explanation_data, network_data, sizes_of, step_data
from .page import asset, check_target, iframe, page, write_page

if TYPE_CHECKING:
    from ..explanation import Explanation

__all__ = [
    "check_target",
    "drawable",
    "explanation_html",
    "iframe",
    "network_data",
    "replay_html",
    "sizes_of",
    "step_data",
    "write_explanation",
    "write_replay",
]

NOTEBOOK_HEIGHT = {"explain": 900, "replay": 1150}
"""Height in pixels of the iframe that shows a page in a notebook."""


def script(kind: str) -> str:
    """The page's one script: the shared explain view, the replay player where needed, and the entry point,
    in one block so that their names stay out of the page's global scope."""
    names = ["tools.js", "diagram.js", "conv.js", "view.js"] + (["plots.js", "player.js"] if kind == "replay" else [])
    return '"use strict";\n{\n' + "".join(asset(name) for name in [*names, "start.js"]) + "}\n"


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
