"""Markdown rendering with LaTeX maths ($…$ inline, $$…$$ on a line of its own), for GitHub and Jupyter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..layers.activations import Activation
from ..layers.terms import as_terms
from .text import MAX_SHOWN_ENTRIES, MAX_SHOWN_SAMPLES, as_rows, fused_note, loss_card, num

if TYPE_CHECKING:
    from .explanation import Explanation
    from .trace import BackwardStep, ChainTerm, LossStep, PathSum

MAX_MATRIX_COLUMNS = 8
"""Wider arrays are summarised by shape and norm rather than typeset."""



def tex_num(x: float, precision: int) -> str:
    s = num(x, precision)
    if "e" in s:
        mant, exp = s.split("e")
        return rf"{mant} \times 10^{{{int(exp)}}}"
    return s


def sym(name: str, layer: int) -> str:
    return f"{name}^{{({layer})}}"


def matrix(a: np.ndarray, precision: int) -> str:
    """A bmatrix, or a short description of a large array."""
    a = np.atleast_2d(np.asarray(a))
    if a.size > MAX_SHOWN_ENTRIES or a.shape[1] > MAX_MATRIX_COLUMNS:
        norm = tex_num(float(np.linalg.norm(a)), precision)
        return rf"\left[\text{{shape }} {a.shape[0]} \times {a.shape[1]},\ \lVert\cdot\rVert = {norm}\right]"
    body = r" \\ ".join(" & ".join(tex_num(v, precision) for v in row) for row in a)
    return rf"\begin{{bmatrix}} {body} \end{{bmatrix}}"


def display(*parts: str) -> str:
    return "$$" + " = ".join(parts) + "$$"


def chain_tex(term: ChainTerm, delta_only: bool, precision: int) -> list[str]:
    """One weight's chain rule; ``delta_only`` for a fused or softmax block, whose first factor is δ itself."""
    i = ",".join(str(k + 1) for k in term.index)
    j = term.index[-1] + 1
    l = term.layer  # noqa: E741
    target = rf"\frac{{\partial L}}{{\partial {term.param}^{{({l})}}_{{{i}}}}}"
    if delta_only:
        symbols = [rf"\delta^{{({l})}}_{{{j}}}"]
    else:
        symbols = [rf"\frac{{\partial L}}{{\partial a^{{({l})}}_{{{j}}}}}", rf"f'\left(z^{{({l})}}_{{{j}}}\right)"]
    symbols.append(f"a^{{({l - 1})}}_{{{term.index[0] + 1}}}" if term.param == "W" else "1")
    total = tex_num(term.value, precision)

    def prod(factors):
        return r" \cdot ".join(
            f"({tex_num(v, precision)})" if k and v < 0 else tex_num(v, precision) for k, (_, v) in enumerate(factors)
        )

    if len(term.factors) == 1:
        return [display(target, r" \cdot ".join(symbols), prod(term.factors[0]), total)]
    lines = [display(target, r"\sum_s " + r" \cdot ".join(symbols), total)]
    if len(term.factors) <= 4:
        lines.append(display(r" + ".join(rf"\left({prod(f)}\right)" for f in term.factors), total))
    return lines


def path_tex(ps: PathSum, precision: int) -> list[str]:
    """A hidden unit's ∂L/∂a as the sum over the units it feeds, with its numbers (first samples)."""
    layer, i, nxt = ps.layer, ps.unit + 1, ps.layer + 1

    def signed(values: list[float], first_plain: bool = True) -> list[str]:
        return [tex_num(v, precision) if (k == 0 and first_plain) or v >= 0 else f"({tex_num(v, precision)})"
                for k, v in enumerate(values)]  # fmt: skip

    lines = []
    n = len(ps.terms)
    for s in range(min(n, MAX_SHOWN_SAMPLES)):
        target = rf"\frac{{\partial L}}{{\partial a^{{({layer})}}_{{{i}}}}}"
        target += rf"\ (\text{{sample {s + 1}}})" if n > 1 else ""
        js = range(1, len(ps.terms[s]) + 1)
        symbols = " + ".join(rf"\delta^{{({nxt})}}_{{{j}}} W^{{({nxt})}}_{{{i},{j}}}" for j in js)
        deltas = signed([d for d, _ in ps.terms[s]])
        weights = signed([w for _, w in ps.terms[s]], first_plain=False)
        factors = " + ".join(rf"{d} \cdot {w}" for d, w in zip(deltas, weights))
        products = " + ".join(signed(ps.products(s)))
        lines.append(display(target, symbols, factors, products, tex_num(ps.value[s], precision)))
    return lines


def per_output_tex(loss: LossStep, precision: int) -> list[str]:
    """Each output's term of L beside the total (where L splits by output), labelled as in the text."""
    if loss.per_output is None:
        return []
    terms = " + ".join(f"L_{{{k}}}" for k in range(1, len(loss.per_output) + 1))
    values = " + ".join(tex_num(v, precision) for v in loss.per_output)
    return ["Per output ($L_k$: output $k$'s term):", display("L", terms, values, tex_num(loss.value, precision))]


def card_tex(loss: LossStep, precision: int) -> list[str]:
    """The loss card of the text (ŷ, p, y, p − y, the batch factor), each row typeset with its label."""
    act = rf"\operatorname{{{loss.squash}}}" if loss.squash else ""
    letter = r"\hat y" if loss.fused else "p"
    names = {
        "yhat": rf"\hat y = p = {act}(z)\ \text{{(probabilities)}}" if loss.fused else (
            r"\hat y = z\ \text{(logits)}" if loss.squash else r"\hat y"),
        "p": rf"p = {act}(z)\ \text{{(probabilities)}}",
        "residual": rf"{letter} - y" + (r"\ (y \text{ one-hot})" if loss.labels else ""),
        "scaled": rf"\frac{{\partial L}}{{\partial z}} = {loss.batch_latex}({letter} - y)",
    }
    out = []
    for key, _, value in loss_card(loss):
        if key == "y" and isinstance(value, str):
            out.append(f"$y$ = {value} (class labels)")
        else:
            out.append(display(names.get(key, "y"), matrix(value, precision)))
    return out


def fused_block(bk: BackwardStep, loss: LossStep, precision: int) -> list[str]:
    """A fused output block: the note, ŷ − y, and δ with its batch factor written out."""
    k = bk.layer
    one_hot = r" \quad (y \text{ one-hot})" if loss.labels else ""
    delta = [rf"\delta^{{({k})}} = \frac{{\partial L}}{{\partial z^{{({k})}}}}"]
    if loss.batch_count is None:  # reduction "sum"
        delta.append(r"\hat y - y")
    else:
        delta += [rf"{loss.batch_latex}(\hat y - y)", rf"{loss.factor_latex}(\hat y - y)"]
    return [
        "",
        f"**Layer {k}** ({bk.activation}), fused with the loss:",
        "",
        f"> {fused_note(bk.activation, loss.name)}.",
        "",
        display(r"\hat y - y" + one_hot, matrix(loss.residual, precision)),
        display(*delta, matrix(bk.delta, precision)),
    ]


def render_markdown(ex: Explanation, precision: int = 5) -> str:
    p, loss, L = precision, ex.loss, len(ex.forward)
    n = len(loss.y_hat)
    err = tex_num(ex.gradcheck_error, 2)
    check = (
        rf"max relative error ${err}$ against central finite differences (tolerance ${tex_num(ex.gradcheck_tol, 1)}$)"
    )
    verdict = "passed" if ex.gradcheck_passed else "FAILED"
    out = [
        f"### One training step of `{ex.model_repr}`",
        "",
        f"Batch of $n = {n}$ sample(s), loss `{loss.name}`, {ex.n_params} parameters. "
        f"Gradient check: {check}: {verdict}.",
        "",
        "#### Forward pass",
        "",
        display(r"z^{(l)} = a^{(l-1)} W^{(l)} + b^{(l)}, \qquad a^{(l)} = f\left(z^{(l)}\right), \qquad a^{(0)} = X"),
    ]
    for f in ex.forward:
        k, act = f.layer, Activation.registry[f.activation].symbol_latex
        out += ["", f"**Layer {k}**: Dense {f.W.shape[0]} → {f.W.shape[1]}, activation {f.activation}", ""]
        out.append(display(sym("a", k - 1), matrix(f.a_prev, p)))
        out.append(display(sym("W", k), matrix(f.W, p)))
        out.append(display(sym("b", k), matrix(f.b, p)))
        out.append(display(f"{sym('z', k)} = {sym('a', k - 1)} {sym('W', k)} + {sym('b', k)}", matrix(f.z, p)))
        out.append(display(rf"{sym('a', k)} = {act}\left({sym('z', k)}\right)", matrix(f.a, p)))
    out += ["", "#### Loss", "", display(loss.latex, tex_num(loss.value, p)), *per_output_tex(loss, p)]
    out += card_tex(loss, p)
    out += ["", r"with $\hat y = a^{(" + str(L) + ")}$ and $n = " + f"{n}$.", "", "#### Backward pass", ""]
    out.append(display(r"\delta^{(l)} = \frac{\partial L}{\partial a^{(l)}} \circ f'\left(z^{(l)}\right)"))
    out.append(display(r"\frac{\partial L}{\partial a^{(l-1)}} = \delta^{(l)} W^{(l)\top}"))
    out.append(display(r"\frac{\partial L}{\partial \hat y}", loss.grad_latex, matrix(loss.dL_dyhat, p)))
    if loss.simplification:
        out += ["", f"> {loss.simplification}."]
    for bk in reversed(ex.backward):
        k = bk.layer
        d_a = rf"\frac{{\partial L}}{{\partial a^{{({k})}}}}"
        src = "from the loss" if k == L else f"from layer {k + 1}"
        if bk.fused:
            out += fused_block(bk, loss, p)  # no ∂L/∂a ∘ f'(z) product: δ comes from the loss
        else:
            out += ["", f"**Layer {k}** ({bk.activation}), $\\partial L / \\partial a^{{({k})}}$ {src}:", ""]
            out.append(display(d_a, matrix(bk.upstream, p)))
            if bk.fprime is None:
                jac = rf"\delta^{{({k})}} = a \circ \left(g - \sum_j (g \circ a)_j\right),\ g = {d_a}"
                out.append(display(jac, matrix(bk.delta, p)))
            else:
                fz = rf"f'\left({sym('z', k)}\right)"
                out.append(display(fz, Activation.registry[bk.activation].derivative_latex, matrix(bk.fprime, p)))
                out.append(display(rf"\delta^{{({k})}} = {d_a} \circ {fz}", matrix(bk.delta, p)))
        if bk.batch_factor is not None:
            factor, count = (t.replace("n·k", "nk") for t in (loss.batch_text.rstrip("·"), loss.count_text))
            out += ["", f"$\\delta^{{({k})}}$ already holds the batch mean's ${factor}$ (${count}$):", ""]
        out.append(
            display(
                rf"\frac{{\partial L}}{{\partial W^{{({k})}}}} = a^{{({k - 1})\top}} \delta^{{({k})}}", matrix(bk.dW, p)
            )
        )
        out.append(
            display(rf"\frac{{\partial L}}{{\partial b^{{({k})}}}} = \sum_s \delta^{{({k})}}_s", matrix(bk.db, p))
        )
        if k > 1:
            da = rf"\frac{{\partial L}}{{\partial a^{{({k - 1})}}}} = \delta^{{({k})}} W^{{({k})\top}}"
            out.append(display(da, matrix(bk.da_prev, p)))
            sums = [ps for ps in ex.paths if ps.layer == k - 1]
            if sums:
                out += ["", f"Unit by unit, each hidden unit's sum over the units of layer {k} it feeds:", ""]
                for ps in sums:
                    out += path_tex(ps, p)
    if ex.chain:
        delta_only = {bk.layer: bk.fused or bk.fprime is None for bk in ex.backward}
        out += ["", "#### Chain rule, weight by weight", ""]
        for term in ex.chain:
            out += chain_tex(term, delta_only[term.layer], p)
    if ex.optimizer:
        out += ["", *ex.update_lines(p, markdown=True)]
    elif ex.updates:
        out += ["", rf"#### Update (plain SGD, $\alpha = {ex.lr:g}$)", ""]
        out += [f"> {note}" for note in ex.notes]
        for up in ex.updates:
            lhs = rf"{up.param}^{{({up.layer})}}_{{\text{{new}}}}"
            if up.frozen:
                out.append(f"${up.param}^{{({up.layer})}}$: frozen, left as it is")
            elif ex.detailed:
                rhs = rf"{matrix(up.old, p)} - {ex.lr:g} \cdot {matrix(up.grad, p)}"
                out.append(display(lhs, rhs, matrix(up.new, p)))
            else:
                out.append(display(lhs, matrix(up.new, p)))
    return "\n\n".join(block for block in out if block) + "\n"


def layer_numbers_markdown(layer: Any, dOut: np.ndarray | None = None, precision: int = 5) -> str:
    """``text.layer_numbers`` in Markdown: each labelled array of the forward (and backward) as a matrix."""
    parts = [f"**{layer!r}**, forward:"]
    parts += [f"{t.label}: {display(matrix(as_rows(t.array), precision))}" for t in as_terms(layer.forward_terms())]
    if dOut is not None:
        parts.append(f"**{layer!r}**, backward:")
        terms = as_terms(layer.backward_terms(dOut))
        parts += [f"{t.label}: {display(matrix(as_rows(t.array), precision))}" for t in terms]
    return "\n\n".join(parts)
