"""Plain-text rendering of an Explanation, at most 80 columns wide."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

import numpy as np

from ..layers.activations import Activation
from ..layers.terms import as_terms

if TYPE_CHECKING:
    from .explanation import Explanation
    from .trace import ChainTerm, LossStep, PathSum

WIDTH = 80
MAX_SHOWN_ENTRIES = 48
MAX_SHOWN_SAMPLES = 4
"""Sums and products are written out sample by sample for batches of at most this many samples."""
"""Arrays with more numbers than this are summarised by shape, norm, min and max."""



def derivative(activation: str) -> str:
    """f'(z) in plain text, from the activation's class."""
    return Activation.registry[activation].derivative


def fused_note(activation: str, loss: str) -> str:
    """The short note on a fused output block, shared by the text, the Markdown and the diagram."""
    return (
        f"{activation} and {loss} are taken as one step, so δ = ∂L/∂z comes straight from ŷ − y, "
        "with no ∂L/∂a ∘ f'(z) product"
    )


def fused_delta(k: int, loss: LossStep) -> str:
    """ "δ(2) = ∂L/∂z(2) = 1/n·(ŷ − y) = 1/2·(ŷ − y)": the fused δ with its batch factor written out."""
    if loss.batch_count is None:  # reduction "sum"
        return f"δ({k}) = ∂L/∂z({k}) = ŷ − y"
    return f"δ({k}) = ∂L/∂z({k}) = {loss.batch_text}(ŷ − y) = {loss.factor_text}(ŷ − y)"


def loss_card(loss: LossStep) -> list[tuple[str, str, np.ndarray | str]]:
    """The loss's rows, each (key, label, value): ŷ named for what it is, then, where the loss squashes,
    p = softmax(z) or σ(z), y (labels written as labels), p − y, and the batch mean's factor applied to it.

    The keys ("yhat", "p", "y", "residual", "scaled") let the Markdown typeset its own labels.
    """
    squash, letter = loss.squash, "ŷ" if loss.fused else "p"
    if loss.fused:
        rows = [("yhat", f"ŷ = p = {squash}(z), the network's output: probabilities", loss.y_hat)]
    elif squash is not None:
        rows = [("yhat", "ŷ = z, the network's output: logits", loss.y_hat)]
        rows.append(("p", f"p = {squash}(z), the probabilities the loss computes", loss.probabilities))
    else:
        rows = [("yhat", "ŷ, the network's output", loss.y_hat)]
    if loss.labels:
        rows.append(("y", "y, class labels", ", ".join(f"class {int(c)}" for c in loss.y)))
    else:
        rows.append(("y", "y, the targets", loss.y))
    if loss.residual is None:
        return rows
    rows.append(("residual", f"{letter} − y" + (" (y one-hot)" if loss.labels else ""), loss.residual))
    scaled = loss.delta_out if loss.fused else loss.dL_dyhat
    if loss.batch_count is None:
        rows.append(("scaled", f"∂L/∂z = {letter} − y (reduction 'sum': no batch factor)", scaled))
    else:
        factor = loss.batch_text.rstrip("·")
        label = f"∂L/∂z = {loss.batch_text}({letter} − y), the batch mean's {factor} ({loss.count_text})"
        rows.append(("scaled", label, scaled))
    return rows


def grad_text(loss: LossStep) -> str:
    """∂L/∂ŷ's formula; on logits, where ŷ = z, it is ∂L/∂z = 1/n·(p − y) with p defined in the loss card."""
    if loss.on_logits:
        return f"∂L/∂z = {loss.batch_text}(p − y)"
    return loss.grad_formula + ("  (unused: the fused step)" if loss.fused else "")


def per_output_lines(loss: LossStep, precision: int) -> list[str]:
    """Each output's term of L beside the total, "L[1] = 0.27481   L[2] = 0.02356", where L splits by output."""
    if loss.per_output is None:
        return []
    terms = "   ".join(f"L[{k}] = {num(v, precision)}" for k, v in enumerate(loss.per_output, start=1))
    return ["  per output, L = Σₖ L[k] with L[k] output k's term:", *wrap(terms, "    ")]


def residual_label(loss: LossStep) -> str:
    return "ŷ − y (y one-hot)" if loss.labels else "ŷ − y"


def num(x: float, precision: int = 5) -> str:
    """A number to ``precision`` decimals, or in e-notation when very small or large; an index (an entry of
    an integer array: a max-pool's winner, a token) as the integer it is."""
    if isinstance(x, np.integer):
        return str(int(x))
    x = float(x)
    if x != 0 and not 10.0 ** -(precision - 2) <= abs(x) < 1e6:
        return f"{x:.{max(precision - 2, 1)}e}"
    return f"{x:.{precision}f}"


def gradcheck_measure(ex: Explanation) -> str:
    return f"max rel. error {ex.gradcheck_error:.1e}, tol {ex.gradcheck_tol:.0e}"


def gradcheck_line(ex: Explanation) -> str:
    """The closing sentence of the text and of the page: the check's measure and its verdict."""
    return f"Gradient check: {gradcheck_measure(ex)}: {'passed' if ex.gradcheck_passed else 'FAILED'}."


def summary(a: np.ndarray) -> str:
    return f"shape {a.shape}, not listed: ‖·‖ = {np.linalg.norm(a):.4g}, min {a.min():.4g}, max {a.max():.4g}"


def rows(a: np.ndarray, precision: int) -> list[str] | None:
    """Aligned rows "[ x  y  z ]", or None when the array is too big to list."""
    a = np.atleast_2d(a)
    if a.size > MAX_SHOWN_ENTRIES:
        return None
    cells = [[num(v, precision) for v in row] for row in a]
    w = max(len(c) for row in cells for c in row)
    lines = ["[" + "  ".join(c.rjust(w) for c in row) + "]" for row in cells]
    return None if len(lines[0]) > WIDTH - 6 else lines


def field(label: str, a: np.ndarray, precision: int, indent: str = "  ") -> list[str]:
    """``label = value`` on one line when it fits, else the rows below the label."""
    lines = rows(a, precision)
    if lines is None:
        line = f"{indent}{label}: {summary(np.asarray(a))}"
        return [line] if len(line) <= WIDTH else [f"{indent}{label}:", *wrap(summary(np.asarray(a)), indent + "    ")]
    if len(lines) == 1 and len(indent) + len(label) + 3 + len(lines[0]) <= WIDTH:
        return [f"{indent}{label} = {lines[0]}"]
    return [f"{indent}{label} ="] + [f"{indent}    {line}" for line in lines]


def wrap(text: str, indent: str = "  ") -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent + "  ")


def param_name(layer: int, param: str, index: tuple[int, ...]) -> str:
    return f"{param}({layer})[{','.join(str(i + 1) for i in index)}]"


def product(factors: list[tuple[str, float]], precision: int) -> str:
    """ "a · (−b) · c": negative factors after the first in brackets."""
    parts = [num(v, precision) for _, v in factors]
    return " · ".join(x if k == 0 or not x.startswith("-") else f"({x})" for k, x in enumerate(parts))


def chain_lines(term: ChainTerm, precision: int) -> list[str]:
    name = f"∂L/∂{param_name(term.layer, term.param, term.index)}"
    symbols = " · ".join(s for s, _ in term.factors[0])
    total = num(term.value, precision)
    if len(term.factors) == 1:
        values = product(term.factors[0], precision)
        line = f"  {name} = {values} = {total}"
        return [line] if len(line) <= WIDTH else [f"  {name} =", f"      {values} = {total}"]
    out = [f"  {name} = Σₛ {symbols} = {total}"]
    if len(term.factors) <= 4:
        for s, factors in enumerate(term.factors, start=1):
            out.append(f"      sample {s}: " + product(factors, precision))
    return out


def bracket(x: str) -> str:
    return f"({x})" if x.startswith("-") else x


def signed(values: list[str]) -> str:
    """ "a + (−b) + c": terms after the first in brackets when negative."""
    return " + ".join(x if k == 0 else bracket(x) for k, x in enumerate(values))


def path_parts(ps: PathSum, s: int, precision: int) -> tuple[str, list[str]]:
    """One hidden unit's sum over the units it feeds, sample ``s``: its name, then each side of the equation.

    ∂L/∂a(1)[1] = δ(2)[1]·W(2)[1,1] + δ(2)[2]·W(2)[1,2] = 0.13850·0.40000 + … = 0.05540 + (-0.01905) = 0.03635
    """
    layer, i, nxt = ps.layer, ps.unit + 1, ps.layer + 1
    symbols = " + ".join(f"δ({nxt})[{j}]·W({nxt})[{i},{j}]" for j in range(1, len(ps.terms[s]) + 1))
    factors = " + ".join(
        f"{num(d, precision) if k == 0 else bracket(num(d, precision))}·{bracket(num(w, precision))}"
        for k, (d, w) in enumerate(ps.terms[s])
    )
    products = signed([num(v, precision) for v in ps.products(s)])
    return f"∂L/∂a({layer})[{i}]", [symbols, factors, products, num(ps.value[s], precision)]


def path_lines(ps: PathSum, precision: int) -> list[str]:
    """The sum for every sample shown, one side of the equation per line when it does not fit on one."""
    out = []
    n = len(ps.terms)
    for s in range(min(n, MAX_SHOWN_SAMPLES)):
        name, sides = path_parts(ps, s, precision)
        head = f"  {name}" + (f" (sample {s + 1})" if n > 1 else "")
        line = head + " = " + " = ".join(sides)
        if len(line) <= WIDTH:
            out.append(line)
            continue
        out += packed(f"{head} = ", sides[0])
        for side in sides[1:]:
            out += packed("      = ", side)
    return out


def packed(prefix: str, side: str) -> list[str]:
    """``prefix + side``, broken before a " + " wherever the line would pass WIDTH."""
    terms = side.split(" + ")
    lines, line = [], prefix + terms[0]
    for term in terms[1:]:
        if len(line) + 3 + len(term) > WIDTH:
            lines.append(line)
            line = " " * (len(prefix) - 2) + "+ " + term
        else:
            line += " + " + term
    return [*lines, line]


def render_text(ex: Explanation, precision: int = 5) -> str:
    p = precision
    fw, loss, L = ex.forward, ex.loss, len(ex.forward)
    n = len(loss.y_hat)
    out = [
        f"One training step of {ex.model_repr}"[:WIDTH],
        f"batch of n = {n} sample(s), loss {loss.name}, {ex.n_params} parameters",
        f"Gradient check against finite differences: {gradcheck_measure(ex)}",
        "",
        "FORWARD   z(l) = a(l-1)·W(l) + b(l),   a(l) = f(z(l)),   a(0) = X",
    ]
    for f in fw:
        out.append(f"Layer {f.layer}: Dense {f.W.shape[0]}→{f.W.shape[1]}, activation {f.activation}")
        out += field(f"a({f.layer - 1})", f.a_prev, p)
        out += field(f"W({f.layer})", f.W, p)
        out += field(f"b({f.layer})", f.b, p)
        out += field(f"z({f.layer}) = a({f.layer - 1})·W({f.layer}) + b({f.layer})", f.z, p)
        out += field(f"a({f.layer}) = {f.activation}(z({f.layer}))", f.a, p)
    out += ["", f"LOSS   {loss.formula}"]
    for _, label, value in loss_card(loss):
        out += wrap(f"{label} = {value}") if isinstance(value, str) else field(label, value, p)
    out.append(f"  L = {num(loss.value, p)}")
    out += per_output_lines(loss, p)
    out += ["", "BACKWARD   δ(l) = ∂L/∂a(l) ∘ f'(z(l)),   ∂L/∂a(l-1) = δ(l)·W(l)ᵀ"]
    out += field(f"∂L/∂ŷ = {grad_text(loss)}", loss.dL_dyhat, p)
    if loss.simplification:
        out += wrap(f"Note: {loss.simplification}.")
    for bk in reversed(ex.backward):
        k = bk.layer
        src = "from the loss" if k == L else f"from layer {k + 1}"
        out.append(f"Layer {k} ({bk.activation})")
        if bk.fused:
            out += wrap(f"Fused block: {fused_note(bk.activation, loss.name)}.")
            out += field(residual_label(loss), loss.residual, p)
            out += field(fused_delta(k, loss), bk.delta, p)
        else:
            out += field(f"∂L/∂a({k}) ({src})", bk.upstream, p)
            rule = f"f'(z({k})) = {derivative(bk.activation)}"
            out += [f"  {rule}"] if bk.fprime is None else field(rule, bk.fprime, p)
            act = Activation.registry[bk.activation]
            rule = f"∂L/∂a({k}) ∘ f'(z({k}))" if bk.fprime is not None else act.chain_formula
            out += field(f"δ({k}) = {rule}", bk.delta, p)
        if bk.batch_factor is None:
            out.append("  (reduction 'sum': no 1/n, the sums over samples stay sums)")
        else:
            factor = loss.batch_text.rstrip("·")
            out.append(f"  δ({k}) holds the batch mean's {factor} ({loss.count_text}): Σ over samples = mean")
        out += field(f"∂L/∂W({k}) = a({k - 1})ᵀ·δ({k})", bk.dW, p)
        out += field(f"∂L/∂b({k}) = Σₛ δ({k})", bk.db, p)
        if k > 1:
            out += field(f"∂L/∂a({k - 1}) = δ({k})·W({k})ᵀ (passed down)", bk.da_prev, p)
            sums = [ps for ps in ex.paths if ps.layer == k - 1]
            if sums:
                out += wrap(f"unit by unit, the sum over the units of layer {k} that each one feeds:")
                for ps in sums:
                    out += path_lines(ps, p)
    if ex.chain:
        out += ["", "CHAIN RULE, weight by weight   (a_in: the input the weight multiplies)"]
        if loss.batch_text:
            factor = loss.batch_text.rstrip("·")
            out += wrap(f"each product runs ∂L/∂a · f'(z) · a_in; ∂L/∂a includes the {factor}")
            out += wrap(f"fused and softmax blocks use δ · a_in: δ = ∂L/∂z, which includes the {factor}")
        else:
            out += wrap("each product runs ∂L/∂a · f'(z) · a_in; no 1/n (reduction 'sum')")
            out += wrap("fused and softmax blocks use δ · a_in, with δ = ∂L/∂z")
        for term in ex.chain:
            out += chain_lines(term, p)
    elif ex.n_params:
        out += ["", f"({ex.n_params} parameters: too many to write out weight by weight; see the matrices.)"]
    if ex.optimizer:
        out += ex.update_lines(p)
    elif ex.updates:
        out += ["", f"UPDATE (plain SGD)   θ_new = θ − α·∂L/∂θ,   α = {ex.lr:g}"]
        if ex.applied:
            out.append("  applied to the model")
        for note in ex.notes:
            out += wrap(f"Note: {note}")
        for up in ex.updates:
            if up.frozen:
                out.append(f"  {up.param}({up.layer}): frozen, left as it is")
            elif ex.detailed:
                for idx in np.ndindex(up.old.shape):
                    name = param_name(up.layer, up.param, idx)
                    old, g, new = (num(a[idx], p) for a in (up.old, up.grad, up.new))
                    out.append(f"  {name}: {old} − {ex.lr:g}·({g}) = {new}")
            else:
                out += field(f"{up.param}({up.layer}) new", up.new, p)
    if ex.notes and not ex.updates:  # with updates, the notes stand under the update's heading
        out.append("")
        for note in ex.notes:
            out += wrap(f"Note: {note}")
    out += ["", gradcheck_line(ex)]
    return "\n".join(out) + "\n"


def layer_numbers(layer: Any, dOut: np.ndarray | None = None, precision: int = 5) -> str:
    """The terms of any layer (Dense, an activation, Dropout, BatchNorm, …), printed by their labels, as text.

    Its last kept forward (``layer.forward_terms()``) and, given ∂L/∂output,
    its backward term by term (``layer.backward_terms(dOut)``, which fills the
    layer's gradients as ``backward`` does).
    """
    lines = [f"{layer!r}, forward:"]
    for t in as_terms(layer.forward_terms()):
        lines += field(t.label, as_rows(t.array), precision)
    if dOut is not None:
        lines.append(f"{layer!r}, backward:")
        for t in as_terms(layer.backward_terms(dOut)):
            lines += field(t.label, as_rows(t.array), precision)
    return "\n".join(lines)


def as_rows(a: Any) -> np.ndarray:
    """An array as rows to print: one row per sample, (n, C, L) signals flattened to (n, C·L)."""
    a = np.atleast_2d(a)
    return a if a.ndim == 2 else a.reshape(-1, int(np.prod(a.shape[-2:])))
