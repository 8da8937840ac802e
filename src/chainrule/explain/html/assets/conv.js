// Convolutions on the explain page: the kernel sliding over a small Conv1D's input, one row per output position,
// and the windows of a pooling with each max-pool window's winner.  Picking a kernel weight (click or keyboard
// focus) highlights the input cells and the δ its gradient sums over, ∂L/∂w[o, c, k] = Σₙ Σₜ δ[n, o, t]·x[n, c, i],
// i = t·stride + k·dilation − padding, and writes that sum out; picking an input cell does the same for ∂L/∂x.
// The positions come from the terms Python listed (explain/html/data.py); the script only places them.

function convSections(net, step) {
  const out = [];
  step.blocks.forEach((b, l) => {
    if (b.conv) out.push(convView(net, b.conv, l));
    if (b.pool) out.push(poolView(net, b.pool, l));
  });
  return out;
}

// The column of each input position i, padding included: from the first window's start to the last one's end.
function positions(L, first, last) {
  const lo = Math.min(0, first),
    hi = Math.max(L - 1, last);
  return { lo, count: hi - lo + 1, col: (i) => i - lo + 2 };
}

function sampleSelect(count, label, onPick) {
  if (count < 2) return null;
  const sel = h("select", { "aria-label": label }, [...Array(count).keys()].map((n) => h("option", { value: n }, n)));
  sel.addEventListener("change", () => onPick(+sel.value));
  return h("label", { class: "hint" }, label + " ", sel);
}

// One cell of a window grid, placed at its row and column; ``tag`` "button" for the cells a learner can pick.
function gridCell(row, col, cls, text, attrs, tag) {
  return h(tag || "div", { class: "cv " + cls, style: "grid-row: " + row + "; grid-column: " + col, ...attrs }, text);
}

function convView(net, cv, l) {
  const n = cv.x.length,
    L = cv.x[0][0].length,
    K = cv.W[0][0].length,
    T = cv.delta[0][0].length;
  const at = (t, k) => t * cv.stride + k * cv.dilation - cv.padding;
  const cols = positions(L, at(0, 0), at(T - 1, K - 1));
  const state = { pick: { kind: "w", j: 0 }, n: 0 };
  const picker = h("div", { class: "kernel", role: "group", "aria-label": "kernel weights" });
  const kernelRows = {}; // one row of buttons per output and input channel: w[o, c, 0] … w[o, c, K − 1]
  const weightButtons = cv.weights.map((w, j) => {
    const [o, c, k] = w.at;
    const name = "w[" + o + ", " + c + ", " + k + "] = " + cv.W[o][c][k];
    if (!kernelRows[o + "," + c]) {
      kernelRows[o + "," + c] = h("div", { class: "toolbar krow" }, h("span", { class: "hint" }, "w[" + o + ", " + c +
        ", k]"));
      picker.appendChild(kernelRows[o + "," + c]);
    }
    const btn = h("button", { type: "button", class: "kw", "data-at": w.at.join(","), "aria-pressed": "false",
      "aria-label": name, title: name }, "k=" + k + ": " + cv.W[o][c][k]);
    const pick = () => choose({ kind: "w", j });
    btn.addEventListener("click", pick);
    btn.addEventListener("focus", pick);
    kernelRows[o + "," + c].appendChild(btn);
    return btn;
  });
  const grid = h("div", { class: "cv-grid" });
  const sum = h("pre", { class: "conv-sum", "aria-live": "polite" });
  const sec = h(
    "section",
    { class: "card conv-view", id: "conv-layer-" + (l + 1) },
    h("h2", null, "Layer " + (l + 1) + ": " + net.layerNames[l] + ", the kernel sliding over its input"),
    h("p", { class: "hint" }, "Each row is one output position t: the kernel's window over the input (stride " +
      cv.stride + ", padding " + cv.padding + ", dilation " + cv.dilation + "). Pick a kernel weight to see the " +
      "input values and δ its gradient sums over, or an input value to see the windows that read it."),
    picker,
    sampleSelect(n, "sample n", (v) => { state.n = v; draw(); }),
    h("div", { class: "cv-scroll" }, grid),
    sum,
  );

  function choose(pick) {
    state.pick = pick;
    draw();
  }

  function draw() {
    const p = state.pick,
      w = p.kind === "w" ? cv.weights[p.j] : null;
    const [o, c, k] = w ? w.at : [p.o, p.c, -1];
    weightButtons.forEach((b, j) => b.setAttribute("aria-pressed", String(w !== null && j === p.j)));
    const nn = state.n,
      x = cv.x[nn][c],
      delta = cv.delta[nn][o];
    // this sample's terms: a weight's (n, t, i) light input i, δ at t and its tap in row t; an input's (o, k, t)
    // light tap k of the windows t of the output channel shown
    const inputSum = p.kind === "x" ? cv.inputs.find((e) => e.at.join() === [nn, c, p.i].join()) : null;
    const hitsX = new Set(w ? w.terms.filter((t) => t[0] === nn).map((t) => t[2]) : [p.i]);
    const hitsT = new Set(w ? w.terms.filter((t) => t[0] === nn).map((t) => t[1]) : inputSum.terms.filter(
      (t) => t[0] === o).map((t) => t[2]));
    const hitTaps = new Set(w ? w.terms.filter((t) => t[0] === nn).map((t) => t[1] + ":" + k) :
      inputSum.terms.filter((t) => t[0] === o).map((t) => t[2] + ":" + t[1]));
    grid.style.gridTemplateColumns = "max-content repeat(" + cols.count + ", minmax(4.6em, 1fr)) max-content";
    const cells = [gridCell(1, 1, "head", "i")];
    for (let i = cols.lo; i < cols.lo + cols.count; i++) cells.push(gridCell(1, cols.col(i), "head idx", i));
    cells.push(gridCell(2, 1, "head", "x[" + nn + ", " + c + ", i]"));
    for (let i = cols.lo; i < cols.lo + cols.count; i++) {
      const inside = i >= 0 && i < L;
      const cls = "x" + (inside ? "" : " pad") + (hitsX.has(i) ? " hit" : "");
      if (!inside) {
        cells.push(gridCell(2, cols.col(i), cls, "0", { "data-i": i, title: "padding" }));
        continue;
      }
      const label = "x[" + nn + ", " + c + ", " + i + "] = " + x[i] + ": show ∂L/∂x";
      const cell = gridCell(2, cols.col(i), cls, x[i], { type: "button", "data-i": i, "aria-label": label }, "button");
      const pick = () => choose({ kind: "x", i, o, c });
      cell.addEventListener("click", pick);
      cell.addEventListener("focus", () => {
        if (state.pick.kind !== "x" || state.pick.i !== i) pick();
      });
      cells.push(cell);
    }
    cells.push(gridCell(1, cols.count + 2, "head", "δ[" + nn + ", " + o + ", t]"));
    cells.push(gridCell(2, cols.count + 2, "head", ""));
    for (let t = 0; t < T; t++) {
      const row = t + 3;
      cells.push(gridCell(row, 1, "head", "t = " + t));
      for (let kk = 0; kk < K; kk++) {
        const i = at(t, kk);
        const hit = hitTaps.has(t + ":" + kk);
        cells.push(gridCell(row, cols.col(i), "tap" + (hit ? " hit" : "") + (kk === k ? " picked" : ""),
          "w" + sub(kk), { "data-t": t, "data-k": kk, title: "w[" + o + ", " + c + ", " + kk + "] = " + cv.W[o][c][kk] }));
      }
      cells.push(gridCell(row, cols.count + 2, "delta" + (hitsT.has(t) ? " hit" : ""), delta[t], { "data-t": t }));
    }
    const focused = grid.contains(document.activeElement) ? document.activeElement.getAttribute("data-i") : null;
    grid.replaceChildren(...cells);
    if (focused !== null) grid.querySelector('button[data-i="' + focused + '"]').focus(); // keep the keyboard's place
    sum.textContent = (w ? w.sum : inputSum.sum).join("\n");
  }
  draw();
  return sec;
}

function poolView(net, pl, l) {
  const n = pl.x.length,
    C = pl.x[0].length,
    L = pl.x[0][0].length,
    T = Math.floor((L - pl.kernel) / pl.stride) + 1;
  const cols = positions(L, 0, L - 1);
  const state = { n: 0, c: 0 };
  const grid = h("div", { class: "cv-grid" });
  const max = pl.winners !== null;
  const sec = h(
    "section",
    { class: "card pool-view", id: "pool-layer-" + (l + 1) },
    h("h2", null, "Layer " + (l + 1) + ": " + net.layerNames[l] + ", its windows"),
    h("p", { class: "hint" }, max
      ? "Each row is one window; the marked cell (▲) won it: the output is its value, and the window's gradient goes to it alone."
      : "Each row is one window; the output is the mean, and each input of the window gets a 1/" + pl.kernel +
        " share of its gradient."),
    h("div", { class: "toolbar" },
      sampleSelect(n, "sample n", (v) => { state.n = v; draw(); }),
      sampleSelect(C, "channel c", (v) => { state.c = v; draw(); })),
    h("div", { class: "cv-scroll" }, grid),
  );
  function draw() {
    const x = pl.x[state.n][state.c],
      win = max ? pl.winners[state.n][state.c] : null;
    grid.style.gridTemplateColumns = "max-content repeat(" + cols.count + ", minmax(4.6em, 1fr))";
    const cells = [gridCell(1, 1, "head", "i"), gridCell(2, 1, "head", "x[" + state.n + ", " + state.c + ", i]")];
    for (let i = 0; i < L; i++) {
      const won = max && win.includes(i);
      cells.push(gridCell(1, cols.col(i), "head idx", i));
      cells.push(gridCell(2, cols.col(i), "x" + (won ? " win" : ""), x[i], { "data-i": i }));
    }
    for (let t = 0; t < T; t++) {
      cells.push(gridCell(t + 3, 1, "head", "window " + t));
      for (let j = 0; j < pl.kernel; j++) {
        const i = t * pl.stride + j,
          won = max && win[t] === i;
        cells.push(gridCell(t + 3, cols.col(i), "tap" + (won ? " win" : ""), won ? "▲ " + x[i] : max ? x[i] : "1/" +
          pl.kernel, { "data-t": t, "data-i": i, title: won ? "the winner of window " + t : null }));
      }
    }
    grid.replaceChildren(...cells);
  }
  draw();
  return sec;
}
