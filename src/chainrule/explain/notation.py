"""The text of one step in a source text's own notation: the names change and the order follows the text.

Every number is one the Explanation already holds; nothing is computed again.

``"mazur"`` follows Mazur's 2-2-2 walk-through: inputs i1, i2; hidden units h1, h2 with net_h1 (z) and
out_h1 (a); outputs o1, o2; weights w1, w2, … numbered layer by layer and, within a layer, unit by unit
(w1 joins i1 to h1, w2 joins i2 to h1, w3 joins i1 to h2, …); each bias by its unit (b_h1); the loss
terms E_o1, E_o2 and E_total; the rate η; updated weights w1⁺. It takes a network of two Dense blocks
(one hidden layer) on one sample, as the text has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .text import WIDTH, num

if TYPE_CHECKING:
    from .explanation import Explanation
    from .trace import ChainTerm

NOTATIONS = ("chainrule", "mazur")


def check_notation(notation: str, ex: Explanation) -> None:
    """ValueError for an unknown notation, or for a step the notation cannot name."""
    if notation not in NOTATIONS:
        raise ValueError(f"notation must be one of {', '.join(map(repr, NOTATIONS))}; received {notation!r}.")
    if notation == "mazur":
        n = len(ex.loss.y_hat)
        if not ex.dense or len(ex.forward) != 2 or n != 1 or not ex.detailed:
            raise ValueError(
                "notation='mazur' names a network of two Dense blocks (one hidden layer), small enough to be "
                "written out weight by weight, on one sample, as Mazur's walk-through has; this step has "
                f"{len(ex.forward) if ex.dense else 'other'} blocks and {n} sample(s)."
            )


def unit(layer: int, j: int) -> str:
    """Unit j (0-based) of block ``layer``: i (inputs, layer 0), h (hidden, layer 1) or o (outputs)."""
    return f"{'iho'[layer]}{j + 1}"


def weight_names(ex: Explanation) -> dict[tuple[int, int, int], str]:
    """(layer, i, j) -> "w5": numbered layer by layer, then unit by unit, then input by input."""
    names, k = {}, 0
    for f in ex.forward:
        n_in, n_out = f.W.shape
        for j in range(n_out):
            for i in range(n_in):
                k += 1
                names[f.layer, i, j] = f"w{k}"
    return names


def param_label(term_layer: int, param: str, index: tuple[int, ...], w: dict) -> str:
    if param == "W":
        return w[term_layer, index[0], index[1]]
    return f"b_{unit(term_layer, index[0])}"


def render_mazur_text(ex: Explanation, precision: int) -> str:
    """The step in Mazur's names and order: forward pass, E_o1, E_o2, E_total, output layer, hidden layer."""
    p = precision
    w = weight_names(ex)
    out = [f"One training step in Mazur's notation: {ex.model_repr}"[:WIDTH], ""]
    out.append("FORWARD PASS")
    for f in ex.forward:
        src = f.layer - 1
        for j in range(f.W.shape[1]):
            u = unit(f.layer, j)
            terms = " + ".join(f"{w[f.layer, i, j]}·{_in(src, i)}" for i in range(f.W.shape[0]))
            values = " + ".join(f"{num(f.W[i, j], p)}·{num(f.a_prev[0, i], p)}" for i in range(f.W.shape[0]))
            out += _fit(f"  net_{u} = {terms} + b_{u}", f"= {values} + {num(f.b[j], p)}", f"= {num(f.z[0, j], p)}")
            out.append(f"  out_{u} = {f.activation}(net_{u}) = {num(f.a[0, j], p)}")
    loss = ex.loss
    out += ["", f"THE ERROR   {loss.formula}"]
    outs = range(loss.y_hat.shape[1])
    if loss.per_output is not None:
        for j in outs:
            out.append(f"  E_o{j + 1} = {num(loss.per_output[j], p)}   (target {num(loss.y[0, j], p)})")
        names = " + ".join(f"E_o{j + 1}" for j in outs)
        out.append(f"  E_total = {names} = {num(loss.value, p)}")
    else:
        out.append(f"  E_total = {num(loss.value, p)}")
    by_layer = {1: [t for t in ex.chain if t.layer == 1], 2: [t for t in ex.chain if t.layer == 2]}
    out += ["", "BACKWARD PASS: output layer"]
    for term in by_layer[2]:
        out += _chain(term, w, p)
    out += ["", "BACKWARD PASS: hidden layer"]
    for ps in ex.paths:
        u = unit(1, ps.unit)
        terms = " + ".join(f"∂E_o{j + 1}/∂out_{u}" for j in range(len(ps.terms[0])))
        parts = " + ".join(
            f"{num(d, p)}·{num(wt, p)}" if k == 0 else f"({num(d, p)})·{num(wt, p)}"
            for k, (d, wt) in enumerate(ps.terms[0])
        )
        products = " + ".join(num(v, p) if k == 0 or v >= 0 else f"({num(v, p)})" for k, v in enumerate(ps.products(0)))
        out += _fit(f"  ∂E_total/∂out_{u} = {terms}", f"= {parts}", f"= {products}", f"= {num(ps.value[0], p)}")
    for term in by_layer[1]:
        out += _chain(term, w, p)
    if ex.updates:
        ups = {(u.layer, u.param): u for u in ex.updates}
        rate = "η" if ex.optimizer is None else "the optimiser's step"
        out += ["", f"UPDATE   w⁺ = w − η·∂E_total/∂w,   η = {ex.lr:g}" if ex.lr else f"UPDATE ({rate})"]
        for layer in (2, 1):
            up = ups[layer, "W"]
            for (lay, i, j), name in w.items():
                if lay == layer:
                    out += _update(name, up, (i, j), ex.lr, p)
            up = ups[layer, "b"]
            for j in range(up.old.shape[0]):
                out += _update(f"b_{unit(layer, j)}", up, (j,), ex.lr, p)
    return "\n".join(out) + "\n"


def _in(layer: int, i: int) -> str:
    return f"i{i + 1}" if layer == 0 else f"out_{unit(layer, i)}"


def _chain(term: ChainTerm, w: dict, p: int) -> list[str]:
    """∂E_total/∂w5 = ∂E_total/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5, with the factors' values."""
    name = param_label(term.layer, term.param, term.index, w)
    u = unit(term.layer, term.index[-1])
    symbols = {
        "∂L/∂a": f"∂E_total/∂out_{u}",
        "f'(z)": f"∂out_{u}/∂net_{u}",
        "a_in": f"∂net_{u}/∂{name}",
        "1": f"∂net_{u}/∂{name}",
    }
    factors = term.factors[0]
    names = " · ".join(symbols.get(s, f"∂E_total/∂net_{u}") for s, _ in factors)
    values = " · ".join(num(v, p) if k == 0 or v >= 0 else f"({num(v, p)})" for k, (_, v) in enumerate(factors))
    return _fit(f"  ∂E_total/∂{name} = {names}", f"= {values}", f"= {num(term.value, p)}")


def _update(name: str, up, index: tuple[int, ...], lr: float | None, p: int) -> list[str]:
    old, grad, new = (num(a[index], p) for a in (up.old, up.grad, up.new))
    if up.frozen:
        return [f"  {name}⁺ = {name} = {old}   (frozen)"]
    if lr is None:
        return [f"  {name}⁺ = {new}   (from {old})"]
    return _fit(f"  {name}⁺ = {name} − η·∂E_total/∂{name}", f"= {old} − {lr:g}·({grad})", f"= {new}")


def _fit(head: str, *sides: str) -> list[str]:
    """``head`` and its sides on one line when that fits in WIDTH, else one side per line below it."""
    line = " ".join([head, *sides])
    return [line] if len(line) <= WIDTH else [head, *(f"      {side}" for side in sides)]
