// The pages' shared script helpers: building elements, the names of units and parameters, and the chain-rule and
// update lines that the tooltips show.  The numbers arrive as strings formatted in Python
// (explain/html/data.py); the script only joins them: a weight's chain-rule product is the factors the trace
// records (∂L/∂a · f'(z) · a_in, or δ · a_in for a fused or softmax block), as ChainTerm.factors holds them.
// User strings (feature and class names) go into the page with textContent and setAttribute, never as HTML.
const SVGNS = "http://www.w3.org/2000/svg";
const SUB = "₀₁₂₃₄₅₆₇₈₉";
const sub = (n) =>
  String(n)
    .split("")
    .map((d) => SUB[+d])
    .join("");
function put(e, attrs, kids) {
  if (attrs)
    for (const k of Object.keys(attrs))
      if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) e.setAttribute(k, String(attrs[k]));
  for (const k of kids.flat(4))
    if (k !== null && k !== undefined && k !== false)
      e.appendChild(typeof k === "object" ? k : document.createTextNode(String(k)));
  return e;
}
const h = (tag, attrs, ...kids) => put(document.createElement(tag), attrs, kids);
const s = (tag, attrs, ...kids) => put(document.createElementNS(SVGNS, tag), attrs, kids);
const val = (x) => {
  const v = parseFloat(x);
  return Number.isFinite(v) ? v : 0;
};
const bracket = (parts) => parts.map((x, k) => (k === 0 || !x.startsWith("-") ? x : "(" + x + ")")).join(" · ");
const rows2 = (a) => (Array.isArray(a[0]) ? a : [a]);
function arrText(a) {
  if (typeof a === "string") return a;
  const rows = rows2(a),
    w = Math.max(...rows.flat().map((c) => c.length));
  return rows.map((r) => "[" + r.map((c) => c.padStart(w)).join("  ") + "]").join("\n");
}
const field = (label, a) => {
  const t = arrText(a);
  return label + (typeof a === "string" ? ": " : t.includes("\n") ? " =\n" : " = ") + t;
};
const short = (t, n) => (t.length > n ? t.slice(0, n - 1) + "…" : t);
const pname = (param, l, idx) => param + "(" + l + ")[" + idx.map((i) => i + 1).join(",") + "]";
function unitName(net, l, j) {
  const L = net.sizes.length - 1;
  if (l === 0) return "x" + sub(j + 1);
  return (l === L ? "ŷ" : "h(" + l + ")") + sub(j + 1);
}
function userName(net, l, j) {
  const L = net.sizes.length - 1;
  if (l === 0 && net.inputNames) return net.inputNames[j];
  if (l === L && net.outputNames) return net.outputNames[j];
  return null;
}
const fullName = (net, l, j) => {
  const u = userName(net, l, j);
  return unitName(net, l, j) + (u === null ? "" : " (" + u + ")");
};

function chainLines(net, step, l, param, i, j) {
  const b = step.blocks[l - 1],
    aprev = l === 1 ? step.x : step.blocks[l - 2].a;
  const deltaOnly = b.fprime === null || b.fused;
  const per = aprev.map((row, k) => {
    const f = deltaOnly
      ? [["δ" + (j + 1), b.delta[k][j]]]
      : [
          ["∂L/∂a", b.upstream[k][j]],
          ["f'(z)", b.fprime[k][j]],
        ];
    f.push(param === "W" ? ["a_in", row[i]] : ["1", net.one]);
    return f;
  });
  const name = "∂L/∂" + pname(param, l, param === "W" ? [i, j] : [j]);
  const total = param === "W" ? b.dW[i][j] : b.db[j];
  const symbols = per[0].map((f) => f[0]).join(" · ");
  if (per.length === 1)
    return [name + " = " + symbols, name + " = " + bracket(per[0].map((f) => f[1])) + " = " + total];
  return [
    name + " = Σₛ " + symbols + " = " + total,
    ...per.map((f, k) => "    sample " + (k + 1) + ": " + bracket(f.map((x) => x[1]))),
  ];
}
function updateLine(step, l, param, i, j) {
  const b = step.blocks[l - 1];
  if (step.lr === null || !b.newW) return null;
  const [old, g, nw] = param === "W" ? [b.W[i][j], b.dW[i][j], b.newW[i][j]] : [b.b[j], b.db[j], b.newb[j]];
  return pname(param, l, param === "W" ? [i, j] : [j]) + ": " + old + " − " + step.lr + "·(" + g + ") = " + nw;
}
function paramTip(net, step, l, param, i, j) {
  const b = step.blocks[l - 1],
    idx = param === "W" ? [i, j] : [j];
  const from = param === "W" ? fullName(net, l - 1, i) : "bias";
  const lines = [pname(param, l, idx) + ": " + from + " → " + fullName(net, l, j)];
  lines.push(pname(param, l, idx) + " = " + (param === "W" ? b.W[i][j] : b.b[j]));
  lines.push(...chainLines(net, step, l, param, i, j));
  const up = updateLine(step, l, param, i, j);
  if (up) lines.push("update θ − α·∂L/∂θ:", up);
  return lines;
}
function sumLines(sum, name) {
  const [full, sides] = sum;
  return [(name || full) + " = " + sides[0] + "   (the units it feeds)", ...sides.slice(1).map((x) => "    = " + x)];
}
function nodeTip(net, step, l, j, k) {
  const lines = [fullName(net, l, j) + (net.n > 1 ? "   (sample " + (k + 1) + ")" : "")];
  if (l === 0) return [...lines, "a(0) = x = " + step.x[k][j]];
  const b = step.blocks[l - 1],
    act = net.activations[l - 1];
  lines.push("z = " + b.z[k][j], "a = " + act + "(z) = " + b.a[k][j]);
  if (b.fused)
    lines.push("δ = ∂L/∂z = " + step.loss.batchText + "(ŷ − y) = " + b.delta[k][j] + "   (fused step)");
  else {
    if (b.sums) lines.push(...sumLines(b.sums[j][k], "∂L/∂a"));
    else lines.push("∂L/∂a = " + b.upstream[k][j]);
    if (b.fprime) lines.push("f'(z) = " + b.fprime[k][j], "δ = ∂L/∂a · f'(z) = " + b.delta[k][j]);
    else lines.push("δ = a ∘ (g − Σⱼ(g ∘ a)ⱼ) = " + b.delta[k][j]);
  }
  return lines;
}

function tipper() {
  const tip = h("div", { class: "tip", role: "tooltip", id: "cr-tip", hidden: "hidden" });
  document.body.appendChild(tip);
  return {
    show(target, lines) {
      tip.textContent = lines.join("\n");
      tip.hidden = false;
      const r = target.getBoundingClientRect(),
        t = tip.getBoundingClientRect();
      let x = r.right + 12,
        y = r.top;
      if (x + t.width > innerWidth - 8) x = Math.max(8, r.left - t.width - 12);
      if (y + t.height > innerHeight - 8) y = Math.max(8, innerHeight - t.height - 8);
      tip.style.left = x + "px";
      tip.style.top = y + "px";
    },
    hide() {
      tip.hidden = true;
    },
  };
}
