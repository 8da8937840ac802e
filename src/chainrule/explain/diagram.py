"""Network diagrams of one training step: ``forward.png`` and ``backward.png``.

Both are FIGURE_PX = 960 × 540 pixels (9.6 × 5.4 inches at 100 dpi). Neurons
are circles, one column per layer; the edges carry the weights (forward) or
their gradients ∂L/∂w (backward) when the network has at most
MAX_DETAIL_PARAMS parameters. Neuron values are those of the first sample;
in ``backward.png`` each drawn hidden neuron has its ∂L/∂a under it, written as the sum
over the units it feeds (Σⱼ δⱼ·Wᵢⱼ, networks of at most MAX_DETAIL_PARAMS parameters),
each drawn output neuron has its ∂L/∂ŷ beside it, or,
where the output activation is fused with the loss (one step, no
∂L/∂a ∘ f'(z) product), its δ = (ŷ − y)·batch factor written out, with a
note under the title. Columns
with more than MAX_DRAWN_UNITS neurons show only the first ones, and neurons
shrink so that a full column does not overlap.
matplotlib is needed (``pip install "chainrule[cli]"``) and is imported only here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .text import fused_note
from .trace import dense_targets

if TYPE_CHECKING:
    from .explanation import Explanation

FIGURE_PX = (960, 540)
DPI = 100
MAX_DRAWN_UNITS = 8
AXES_BOX = (0.0, 0.0, 1.0, 0.92)  # left, bottom, width, height of the drawing area; the title sits above
COLUMN_X = (0.08, 0.78)  # centres of the first and last columns; the right margin holds the ∂L/∂ŷ labels
UNIT_Y = (0.82, 0.12)  # centres of the top and bottom drawn neurons
LARGEST_DIAMETER_PX = 80
SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _g(x: float, precision: int) -> str:
    return f"{float(x):.{precision}g}"


def _sub(n: int) -> str:
    return str(n).translate(SUBSCRIPTS)


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
        x = COLUMN_X[0] + (COLUMN_X[1] - COLUMN_X[0]) * c / max(len(sizes) - 1, 1)
        ys = [0.5] if shown == 1 else list(np.linspace(*UNIT_Y, shown))
        cols.append([(x, y) for y in ys])
    return cols


def _diameter(sizes: list[int]) -> tuple[float, float]:
    """A neuron's width and height in axes units: a circle of at most LARGEST_DIAMETER_PX pixels, shrunk so
    that the neurons of the fullest column do not overlap."""
    ax_w, ax_h = FIGURE_PX[0] * AXES_BOX[2], FIGURE_PX[1] * AXES_BOX[3]
    shown = min(max(sizes), MAX_DRAWN_UNITS)
    gap_px = (UNIT_Y[0] - UNIT_Y[1]) / max(shown - 1, 1) * ax_h
    d = min(LARGEST_DIAMETER_PX, 0.85 * gap_px)
    return d / ax_w, d / ax_h


def draw(ex: Explanation, backward: bool, precision: int = 3) -> Any:
    """The forward (``backward=False``) or backward diagram of ``ex`` as a matplotlib Figure, not yet saved.

    In the backward diagram each drawn output neuron j has ∂L/∂ŷⱼ of the first sample beside it, as a text
    whose gid is ``"dL_dyhat_j"`` (1-based). A fused output has δⱼ = (ŷⱼ − yⱼ)·batch factor there instead,
    gid ``"delta_out_j"``, and the note on the fused step under the title (gid ``"fused_note"``).
    """
    fig = _figure()
    ax = fig.add_axes(AXES_BOX)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    sizes = [ex.forward[0].W.shape[0]] + [f.W.shape[1] for f in ex.forward]
    pos = _positions(sizes)
    width, height = _diameter(sizes)
    unit_font = 7 if height * FIGURE_PX[1] * AXES_BOX[3] >= 60 else 6
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
            ax.add_patch(_circle(x, y, width, height))
            label = _unit_label(ex, c, u, backward, precision)
            ax.text(x, y, label, fontsize=unit_font, ha="center", va="center", zorder=5)
        if sizes[c] > len(col):
            more = f"+{sizes[c] - len(col)} more" + (" (not drawn)" if c == len(pos) - 1 and backward else "")
            ax.text(col[-1][0], col[-1][1] - height / 2 - 0.035, more, fontsize=8, ha="center", va="center")
        if backward:
            _path_labels(ax, ex, c, col, height, precision)
        name = "input a(0)" if c == 0 else f"layer {c}: {ex.forward[c - 1].activation}"
        ax.text(col[0][0], 0.95, name, fontsize=9, ha="center")
    loss = ex.loss
    if backward and ex.backward[-1].fused:
        title = "Backward pass: ∂L/∂W on the edges (red < 0, blue > 0), δ = ∂L/∂z in the neurons and at the outputs"
        for j, (x, y) in enumerate(pos[-1]):
            ax.text(x + width / 2 + 0.01, y, _fused_label(ex, j, precision), fontsize=7, ha="left", va="center",
                    zorder=5, gid=f"delta_out_{j + 1}")  # fmt: skip
        note = f"Output layer {len(ex.forward)}: {fused_note(ex.forward[-1].activation, loss.name)}."
        fig.text(0.5, 0.935, note, fontsize=8, ha="center", va="center", gid="fused_note")
    elif backward:
        title = "Backward pass: ∂L/∂W on the edges (red < 0, blue > 0), δ = ∂L/∂z in the neurons, ∂L/∂ŷ at the outputs"
        dL_dyhat = np.asarray(loss.dL_dyhat).reshape(len(loss.y_hat), -1)
        for j, (x, y) in enumerate(pos[-1]):
            ax.text(x + width / 2 + 0.01, y, f"∂L/∂ŷ{_sub(j + 1)} = {_g(dL_dyhat[0, j], precision)}", fontsize=8,
                    ha="left", va="center", zorder=5, gid=f"dL_dyhat_{j + 1}")  # fmt: skip
    else:
        title = "Forward pass: weights on the edges, z and a = f(z) in the neurons"
        note = f"L = {_g(loss.value, precision)}"
        ax.text(pos[-1][0][0] + width / 2 + 0.03, 0.5, note, fontsize=9, ha="left", va="center", rotation=90)
    n = len(loss.y_hat)
    fig.suptitle(title + (f"  (sample 1 of {n})" if n > 1 else ""), fontsize=10)
    return fig


def _path_labels(ax: Any, ex: Explanation, layer: int, col: list, height: float, precision: int) -> None:
    """Under each drawn hidden unit: its ∂L/∂a as the sum over the units it feeds (first sample), gid
    ``"path_sum_l_i"``: "∂L/∂a = 0.0554 + (-0.019) = 0.0364" (above the lowest unit, to stay in the figure)."""
    for ps in ex.paths:
        if ps.layer != layer or ps.unit >= len(col):
            continue
        x, y = col[ps.unit]
        terms = [_g(v, precision) for v in ps.products(0)]
        shown = " + ".join(t if k == 0 or not t.startswith("-") else f"({t})" for k, t in enumerate(terms))
        label = f"∂L/∂a = Σ δ·W\n= {shown}\n= {_g(ps.value[0], precision)}"
        below = ps.unit < len(col) - 1  # the lowest unit's label goes above it, inside the figure
        ax.text(x, y - height / 2 - 0.01 if below else y + height / 2 + 0.01, label, fontsize=6, ha="center",
                va="top" if below else "bottom", zorder=6,
                gid=f"path_sum_{layer}_{ps.unit + 1}", bbox={"fc": "white", "ec": "none", "pad": 0.3})  # fmt: skip


def _fused_label(ex: Explanation, j: int, precision: int) -> str:
    """δⱼ = 1/n·(ŷⱼ − yⱼ) of the first sample, with its numbers: the fused output step, as the text shows it."""
    loss, s = ex.loss, _sub(j + 1)
    y = dense_targets(loss.y, loss.y_hat.shape[1], loss.y_hat.dtype)[0, j]
    delta = ex.backward[-1].delta[0, j]
    difference = f"{_g(loss.y_hat[0, j], precision)} − {_g(y, precision)}"
    if loss.batch_count is None:  # reduction "sum"
        return f"δ{s} = ŷ{s} − y{s}\n= {difference}\n= {_g(delta, precision)}"
    return f"δ{s} = {loss.batch_text}(ŷ{s} − y{s})\n= {loss.factor_text}({difference})\n= {_g(delta, precision)}"


def _draw(ex: Explanation, backward: bool, path: Path, precision: int) -> Path:
    draw(ex, backward, precision).savefig(path, dpi=DPI)
    return path


def _circle(x: float, y: float, width: float, height: float) -> Any:
    from matplotlib.patches import Ellipse

    return Ellipse((x, y), width, height, fc="#f3f0e0", ec="0.2", zorder=4)


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
