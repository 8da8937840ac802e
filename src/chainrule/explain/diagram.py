"""Network diagrams of one training step: ``forward.png`` and ``backward.png``.

Both are FIGURE_PX = 960 × 540 pixels (9.6 × 5.4 inches at 100 dpi). Neurons
are circles, one column per layer; the edges carry the weights (forward) or
their gradients ∂L/∂w (backward) when the network has at most
MAX_DETAIL_PARAMS parameters. Neuron values are those of the first sample.
Columns with more than MAX_DRAWN_UNITS neurons show only the first ones.
matplotlib is needed (``pip install "chainrule[cli]"``) and is imported only here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .explanation import Explanation

FIGURE_PX = (960, 540)
DPI = 100
MAX_DRAWN_UNITS = 8


def _g(x: float, precision: int) -> str:
    return f"{float(x):.{precision}g}"


def _figure() -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ImportError(
            'Explanation.save_diagrams needs matplotlib; install it with: pip install "chainrule[cli]"'
        ) from err
    fig = Figure(figsize=(FIGURE_PX[0] / DPI, FIGURE_PX[1] / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _positions(sizes: list[int]) -> list[list[tuple[float, float]]]:
    cols = []
    for c, size in enumerate(sizes):
        shown = min(size, MAX_DRAWN_UNITS)
        x = 0.08 + 0.78 * c / max(len(sizes) - 1, 1)
        ys = [0.5] if shown == 1 else list(np.linspace(0.82, 0.12, shown))
        cols.append([(x, y) for y in ys])
    return cols


def _draw(ex: Explanation, backward: bool, path: Path, precision: int) -> Path:
    fig = _figure()
    ax = fig.add_axes((0, 0, 1, 0.92))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    sizes = [ex.forward[0].W.shape[0]] + [f.W.shape[1] for f in ex.forward]
    pos = _positions(sizes)
    label_edges = ex.detailed
    for k, f in enumerate(ex.forward):
        values = ex.backward[k].dW if backward else f.W
        scale = float(np.abs(values).max()) or 1.0
        for i, (x0, y0) in enumerate(pos[k]):
            for j, (x1, y1) in enumerate(pos[k + 1]):
                v = float(values[i, j])
                color = ("tab:red" if v < 0 else "tab:blue") if backward else "0.55"
                ax.plot([x0, x1], [y0, y1], color=color, lw=0.6 + 2.4 * abs(v) / scale, zorder=1)
                if label_edges:
                    t = 0.3 + 0.4 * (j / max(len(pos[k + 1]) - 1, 1))  # stagger labels along the edges
                    ax.text(x0 + t * (x1 - x0), y0 + t * (y1 - y0), _g(v, precision), fontsize=7, ha="center",
                            va="center", zorder=3, bbox={"fc": "white", "ec": "none", "pad": 0.3})  # fmt: skip
    for c, col in enumerate(pos):
        for u, (x, y) in enumerate(col):
            ax.add_patch(_circle(fig, x, y))
            ax.text(x, y, _unit_label(ex, c, u, backward, precision), fontsize=7, ha="center", va="center", zorder=5)
        if sizes[c] > len(col):
            ax.text(col[-1][0], 0.04, f"+{sizes[c] - len(col)} more", fontsize=8, ha="center")
        name = "input a(0)" if c == 0 else f"layer {c}: {ex.forward[c - 1].activation}"
        ax.text(col[0][0], 0.95, name, fontsize=9, ha="center")
    loss = ex.loss
    last = pos[-1][0][0]
    if backward:
        title = "Backward pass: ∂L/∂W on the edges (red < 0, blue > 0), δ = ∂L/∂z in the neurons"
        note = f"∂L/∂ŷ₁ = {_g(loss.dL_dyhat[0, 0], precision)}"
    else:
        title = "Forward pass: weights on the edges, z and a = f(z) in the neurons"
        note = f"L = {_g(loss.value, precision)}"
    ax.text(min(last + 0.07, 0.97), 0.5, note, fontsize=9, ha="left", va="center", rotation=90)
    n = len(loss.y_hat)
    fig.suptitle(title + (f"  (sample 1 of {n})" if n > 1 else ""), fontsize=10)
    fig.savefig(path, dpi=DPI)
    return path


def _circle(fig: Any, x: float, y: float) -> Any:
    from matplotlib.patches import Ellipse

    w, h = fig.get_size_inches()
    return Ellipse((x, y), 0.085, 0.085 * w / h, fc="#f3f0e0", ec="0.2", zorder=4)


def _unit_label(ex: Explanation, col: int, unit: int, backward: bool, precision: int) -> str:
    if col == 0:
        a = ex.forward[0].a_prev[0, unit]
        return f"x{unit + 1}\n{_g(a, precision)}"
    if backward:
        return f"δ{unit + 1}\n{_g(ex.backward[col - 1].delta[0, unit], precision)}"
    f = ex.forward[col - 1]
    return f"z {_g(f.z[0, unit], precision)}\na {_g(f.a[0, unit], precision)}"


def save_diagrams(ex: Explanation, folder: str | Path, precision: int = 3) -> list[Path]:
    """Write ``forward.png`` and ``backward.png`` (FIGURE_PX pixels each) into ``folder``."""
    _figure()  # fail early, with the install hint, when matplotlib is missing
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [
        _draw(ex, False, folder / "forward.png", precision),
        _draw(ex, True, folder / "backward.png", precision),
    ]
