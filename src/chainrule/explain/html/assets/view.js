// The explain view: the diagram with its forward/backward toggle and tooltips, and the sections for the loss,
// the fused step, the formulas, the updates and the gradient check; and the explain page's entry point.
function summaryTable(net, step) {
  const t = h(
    "table",
    { id: "layer-table" },
    h(
      "tr",
      null,
      ["layer", "array", "shape", "‖·‖", "min", "max"].map((c) => h("th", null, c)),
    ),
  );
  step.blocks.forEach((b, l) =>
    b.table.forEach((r, q) =>
      t.appendChild(
        h(
          "tr",
          null,
          h(
            "td",
            null,
            q !== 0
              ? ""
              : net.layerNames
                ? l + 1 + ": " + net.layerNames[l]
                : l + 1 + ": Dense " + net.sizes[l] + "→" + net.sizes[l + 1] + ", " + net.activations[l],
          ),
          r.map((c, ci) => h("td", { class: ci > 1 ? "num" : null }, c)),
        ),
      ),
    ),
  );
  return h("div", { class: "scroll" }, t);
}

function sumsSection(step, k) {
  const sec = h(
    "section",
    { class: "card", id: "path-sums" },
    h("h2", null, "Hidden units: ∂L/∂a, the sum over the units each one feeds"),
    h(
      "p",
      { class: "hint" },
      "∂L/∂a(l)[i] = Σⱼ δ(l+1)[j]·W(l+1)[i,j]: each unit j it feeds passes back its δ, weighted.",
    ),
  );
  step.blocks.forEach((b) => {
    if (b.sums) b.sums.forEach((u) => sec.appendChild(h("pre", null, sumLines(u[k]).join("\n"))));
  });
  return sec;
}

// A network of any explainable layers: each layer's labelled numbers, forward in layer order, then backward from
// the output down (BatchNorm's μ, σ², x̂ and its three paths; Dropout's mask and scale; a Residual's two paths).
function layersSection(net, step) {
  const part = (title, id, order) =>
    h(
      "section",
      { class: "card", id },
      h("h2", null, title),
      order.map((l) =>
        h(
          "div",
          { class: "layer-terms", "data-layer": l + 1 },
          h("h3", null, "Layer " + (l + 1) + ": " + net.layerNames[l]),
          (id === "layers-forward" ? step.blocks[l].forward : step.blocks[l].backward).map(([label, value]) =>
            h("pre", null, field(label, value)),
          ),
        ),
      ),
    );
  const up = step.blocks.map((_, l) => l);
  return [
    part("Forward, layer by layer", "layers-forward", up),
    part("Backward, from the output down: ∂L/∂output in, the terms, ∂L/∂input out", "layers-backward", [
      ...up,
    ].reverse()),
  ];
}

function details(net, step, drawn, k) {
  const L = step.loss,
    out = [];
  const lossPre = [
    "L = " + L.value,
    L.formula,
    ...L.card.map(([label, value, isText]) => (isText ? label + " = " + value : field(label, value))),
    field("∂L/∂ŷ = " + L.gradFormula, step.dLdyhat),
  ];
  out.push(
    h(
      "section",
      { class: "card", id: "loss-section" },
      h("h2", null, "Loss"),
      lossPre.map((t) => h("pre", null, t)),
      L.simplification ? h("p", null, "Note: " + L.simplification + ".") : null,
    ),
  );
  if (net.layerNames) out.push(...convSections(net, step), ...layersSection(net, step));
  if (step.blocks.some((b) => b.sums)) out.push(sumsSection(step, k || 0));
  if (L.fused) {
    out.push(
      h(
        "section",
        { class: "card", id: "fused-section" },
        h("h2", null, "Fused output step"),
        h("p", { class: "mono" }, L.fused),
        h("p", null, L.fusedNote + "."),
        step.residual ? h("pre", null, field(L.residualLabel, step.residual)) : null,
      ),
    );
  }
  const ftab = h(
    "table",
    null,
    h("tr", null, h("th", null, "activation"), h("th", null, "f(z)"), h("th", null, "f'(z)")),
    net.formulas.map((f) =>
      h("tr", null, h("td", null, f.name), h("td", { class: "mono" }, f.f), h("td", { class: "mono" }, f.df)),
    ),
  );
  out.push(
    h(
      "section",
      { class: "card", id: "formulas" },
      h("h2", null, "Formulas"),
      net.equations.map((e) => h("pre", null, e)),
      h("div", { class: "scroll" }, ftab),
      h("pre", null, "loss " + L.name + ":  " + L.formula + "\n∂L/∂ŷ = " + L.gradRule),
    ),
  );
  if (step.lr !== null) {
    const sec = h(
      "section",
      { class: "card", id: "updates" },
      h("h2", null, "Update (plain SGD)   θ_new = θ − α·∂L/∂θ,   α = " + step.lr),
      step.applied ? h("p", null, "applied to the model") : null,
    );
    step.notes.forEach((n) => sec.appendChild(h("p", null, "Note: " + n)));
    if (drawn && net.nParams <= 64) {
      const t = h(
        "table",
        null,
        h(
          "tr",
          null,
          ["parameter", "θ", "∂L/∂θ", "θ − α·∂L/∂θ"].map((c) => h("th", null, c)),
        ),
      );
      step.blocks.forEach((b, q) => {
        const l = q + 1,
          add = (name, o, g, n) =>
            t.appendChild(
              h(
                "tr",
                { "data-param": name },
                h("td", null, name),
                [o, g, n].map((c) => h("td", { class: "num" }, c)),
              ),
            );
        b.W.forEach((r, i) => r.forEach((_, j) => add(pname("W", l, [i, j]), b.W[i][j], b.dW[i][j], b.newW[i][j])));
        b.b.forEach((_, j) => add(pname("b", l, [j]), b.b[j], b.db[j], b.newb[j]));
      });
      const sum = h("summary", null, "every parameter: θ, ∂L/∂θ and θ − α·∂L/∂θ");
      sec.appendChild(
        h("details", { open: net.nParams <= 16 ? "open" : null }, sum, h("div", { class: "scroll" }, t)),
      );
    } else if (drawn)
      sec.appendChild(
        h("p", { class: "hint" }, "Hover over or focus a weight or bias in the diagram for its update."),
      );
    out.push(sec);
  }
  const gc = step.gradcheck;
  out.push(
    h(
      "section",
      { class: "card", id: "gradcheck" },
      h("h2", null, "Gradient check"),
      h("p", { class: gc.passed ? "ok" : "bad" }, gc.text),
    ),
  );
  return out;
}

function explainView(net, first) {
  const state = { view: "forward", k: 0, step: first };
  const tip = tipper();
  const box = h("div", { class: "figure" });
  const bF = h("button", { type: "button", "aria-pressed": "true", id: "view-forward" }, "Forward");
  const bB = h("button", { type: "button", "aria-pressed": "false", id: "view-backward" }, "Backward");
  const tools = h("div", { class: "toolbar" });
  if (net.drawn) {
    tools.append(h("span", { role: "group", "aria-label": "view" }, bF, " ", bB));
    if (net.n > 1) {
      const sel = h(
        "select",
        { id: "sample", "aria-label": "sample" },
        Array.from({ length: net.n }, (_, q) => h("option", { value: q }, "sample " + (q + 1))),
      );
      sel.addEventListener("change", () => {
        state.k = +sel.value;
        redraw();
        more.textContent = "";
        more.append(...details(net, state.step, net.drawn, state.k));
      });
      tools.appendChild(sel);
    }
    tools.appendChild(
      h("span", { class: "hint" }, "Hover over or Tab to a weight, bias or neuron: its chain rule and update."),
    );
  }
  const legend = h(
    "div",
    { class: "legend", id: "diagram-legend" },
    h("span", null, h("span", { class: "swatch", style: "background: var(--pos)" }), "blue: positive"),
    h("span", null, h("span", { class: "swatch", style: "background: var(--neg)" }), "red: negative"),
    h("span", { id: "legend-view" }, ""),
  );
  const note = h("p", { class: "hint", id: "hidden-numbers" });
  const skip = h("a", { class: "skip", href: "#after-diagram", id: "skip-diagram" }, "Skip past the diagram");
  const after = h("span", { id: "after-diagram", tabindex: "-1", class: "after" });
  const diagram = h(
    "section",
    { class: "card", id: "diagram-card" },
    h("h2", { id: "diagram-title" }, "Network"),
    net.drawn ? skip : null,
    tools,
    box,
    net.drawn ? legend : null,
    net.drawn ? h("p", { class: "hint narrow-only" }, "On a narrow screen the diagram scrolls inside its box.") : null,
    note,
    after,
  );
  skip.addEventListener("click", (ev) => {
    ev.preventDefault();
    after.focus();
  });
  const more = h("div", { class: "details" });
  function redraw() {
    box.textContent = "";
    tip.hide();
    if (!net.drawn) {
      box.appendChild(summaryTable(net, state.step));
      return;
    }
    const svg = drawNetwork(net, state.step, state.view, state.k);
    box.appendChild(svg);
    const hidden = +svg.dataset.hiddenLabels,
      edges = +svg.dataset.edges;
    note.textContent =
      hidden === 0
        ? ""
        : hidden === edges
          ? "The weights' numbers do not fit on a drawing this size: hover over or focus (Tab) an edge, bias or " +
            "neuron to read its numbers."
          : hidden +
            " of " +
            edges +
            " weights have no room for their number on the drawing: hover over or focus (Tab) an edge to read it.";
    legend.lastChild.textContent =
      state.view === "forward"
        ? "the sign of W on the edges (width ∝ |W|) and of a in the neurons"
        : "the sign of ∂L/∂W on the edges (width ∝ |∂L/∂W|) and of δ = ∂L/∂z in the neurons";
  }
  function setView(v) {
    state.view = v;
    bF.setAttribute("aria-pressed", String(v === "forward"));
    bB.setAttribute("aria-pressed", String(v === "backward"));
    redraw();
  }
  bF.addEventListener("click", () => setView("forward"));
  bB.addEventListener("click", () => setView("backward"));
  function target(ev) {
    return ev.target.closest ? ev.target.closest(".edge, .bias, .node, .label") : null;
  }
  function show(ev) {
    const t = target(ev);
    if (!t) return;
    const d = t.dataset,
      edge = box.querySelector('.edge[data-layer="' + d.layer + '"][data-i="' + d.i + '"][data-j="' + d.j + '"]');
    for (const e of box.querySelectorAll(".active")) e.classList.remove("active");
    if (t.classList.contains("label") && edge) edge.classList.add("active");
    const l = +t.dataset.layer,
      j = +t.dataset.j;
    const lines = t.classList.contains("node")
      ? nodeTip(net, state.step, l, j, state.k)
      : paramTip(net, state.step, l, t.dataset.param, +(t.dataset.i || 0), j);
    tip.show(t, lines);
  }
  box.addEventListener("mouseover", show);
  box.addEventListener("focusin", show);
  box.addEventListener("mouseout", (ev) => {
    if (!target(ev)) return;
    tip.hide();
    for (const e of box.querySelectorAll(".active")) e.classList.remove("active");
  });
  box.addEventListener("focusout", () => tip.hide());
  function update(step) {
    state.step = step;
    redraw();
    more.textContent = "";
    more.append(...details(net, step, net.drawn, state.k));
  }
  update(first);
  return { diagram, details: more, update, tip };
}

function renderExplain(app, data) {
  const net = data.net,
    step = data.step;
  app.append(
    h("h1", null, data.title),
    h(
      "p",
      { class: "meta" },
      "batch of n = " + net.n + " sample(s), loss " + step.loss.name + ", " + net.nParams + " parameters",
    ),
  );
  const stat = (label, value, id, cls) =>
    h(
      "div",
      { class: "card stat" },
      h("span", { class: "label" }, label),
      h("span", { class: "value " + (cls || ""), id }, value),
    );
  app.appendChild(
    h(
      "div",
      { class: "cards" },
      stat("loss L", step.loss.value, "loss-value"),
      step.lr !== null ? stat("learning rate α", step.lr, "lr-value") : null,
      stat(
        "gradient check",
        step.gradcheck.passed ? "passed" : "FAILED",
        "gradcheck-value",
        step.gradcheck.passed ? "ok" : "bad",
      ),
    ),
  );
  const v = explainView(net, step);
  app.append(v.diagram, v.details);
}
