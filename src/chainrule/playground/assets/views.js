// The playground's own views and controls beside the shared drawing code: the output discretized, regression
// points on a colour scale, each neuron's image inside its node, the diagram at its natural size (its text at
// 12 px), the loss legend above the plot, the optimiser's real update as a table, editing a weight by clicking
// it, exports that report a refusal, and the hidden layers' buttons. playground.js wires them to the session.

// The surface bytes (0-255 per grid cell) with every cell set to 0 or 255 by which side of the middle it is.
function discretized(b64) {
  const raw = atob(b64);
  let out = "";
  for (let q = 0; q < raw.length; q++) out += raw.charCodeAt(q) >= 128 ? "\xff" : "\x00";
  return btoa(out);
}

// Regression targets as points coloured on the output's scale: −1 in the first colour, +1 in the second.
function drawValuePoints(canvas, points, showTest, extent) {
  const ctx = canvas.getContext("2d"),
    size = canvas.width,
    cols = [rgb(COLORS[0]), rgb(COLORS[1])];
  const px = (v) => ((v + extent) / (2 * extent)) * size;
  points.X.forEach((pt, q) => {
    const test = q >= points.nTrain;
    if (test && !showTest) return;
    const f = Math.min(1, Math.max(0, (points.y[q] + 1) / 2));
    const c = cols[0].map((x, t) => Math.round(x + (cols[1][t] - x) * f));
    const colour = "rgb(" + c.join(",") + ")";
    ctx.beginPath();
    ctx.arc(px(pt[0]), size - px(pt[1]), test ? 3.5 : 4, 0, 2 * Math.PI);
    ctx.fillStyle = test ? "#fff" : colour;
    ctx.fill();
    ctx.lineWidth = test ? 2 : 1.2;
    ctx.strokeStyle = test ? colour : "#fff";
    ctx.stroke();
  });
}

// Each unit's image (a data URL per "layer,j") drawn inside its node: on a small node the image is the node,
// on a large one it fills the node's right end, beside its numbers.
function paintNodes(svg, images) {
  svg.querySelectorAll("image.node-image").forEach((e) => e.remove());
  svg.querySelectorAll(".node").forEach((g) => {
    const url = images[g.dataset.layer + "," + g.dataset.j];
    if (!url) return;
    const circle = g.querySelector("circle"),
      rect = g.querySelector("rect");
    let x, y, w;
    if (circle) {
      w = 30;
      x = +circle.getAttribute("cx") - w / 2;
      y = +circle.getAttribute("cy") - w / 2;
    } else if (rect) {
      w = 36; // right of the numbers ("z = -0.12345" ends about 95 px into the 140 px node)
      x = +rect.getAttribute("x") + +rect.getAttribute("width") - w - 4;
      y = +rect.getAttribute("y") + (+rect.getAttribute("height") - w) / 2;
    } else return;
    const img = s("image", { class: "node-image", x, y, width: w, height: w, href: url, "aria-hidden": "true" });
    img.setAttribute("preserveAspectRatio", "none");
    g.appendChild(img);
  });
}

// A 40×40 grid of bytes (as the neurons' images) as a PNG data URL, pale to strong in one colour.
function gridImage(b64, grid) {
  const c = h("canvas", { width: grid, height: grid }),
    ctx = c.getContext("2d"),
    img = ctx.createImageData(grid, grid),
    p = bytes(b64),
    lo = rgb(COLORS[0]),
    hi = rgb(COLORS[1]);
  for (let q = 0; q < grid * grid; q++) {
    const v = p[q] / 255;
    for (let t = 0; t < 3; t++) img.data[4 * q + t] = Math.round(lo[t] + (hi[t] - lo[t]) * v);
    img.data[4 * q + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return c.toDataURL();
}

// The diagram one CSS pixel per unit of its drawing, so its 12 px text stays 12 px; its box scrolls if wider.
function naturalSize(root) {
  root.querySelectorAll("svg.diagram").forEach((svg) => {
    const box = svg.viewBox.baseVal;
    svg.style.width = box.width + "px";
    svg.style.maxWidth = "none";
    svg.style.maxHeight = "none";
    svg.style.height = box.height + "px";
  });
}

// The curve's legend, named as the status line names the losses, above the plot where no curve crosses it.
function curveWithLegend(logs, lossName) {
  const c = curve({ logs, firstEpoch: 0 });
  c.el.querySelectorAll(".tick").forEach((t) => {
    if (/loss \((solid|dashed)\)$/.test(t.textContent)) t.remove();
  });
  const legend = h(
    "div",
    { class: "legend", id: "curve-legend" },
    h("span", null, h("span", { class: "swatch", style: "background:" + CURVE_COLORS[0] }), "training loss"),
    h("span", null, h("span", { class: "swatch dashed", style: "color:" + CURVE_COLORS[1] }), "test loss"),
    h("span", null, lossName),
  );
  return h("div", null, legend, c.el);
}

const UPDATE_HEADS = { name: "parameter", w: "w", dL: "∂L/∂w", penalty: "penalty", g: "g", velocity: "v", m: "m",
  v: "v", s: "s", mhat: "m̂", vhat: "v̂", new: "w new" }; // prettier-ignore

// The optimiser's real update: its formula, its hyperparameters, and every parameter's numbers.
function updateTable(u) {
  const hyper = Object.keys(u.hyper).map((k) => k + " = " + u.hyper[k]).join(", ");
  const rows = u.rows.map((r) => h("tr", null, u.columns.map((c) => h(c === "name" ? "th" : "td", null, r[c]))));
  return h(
    "section",
    { class: "card", id: "update-section" },
    h("h2", null, "The optimiser's real update: " + u.optimizer + ", step t = " + u.t),
    h("p", { class: "mono" }, u.formula),
    h("p", { class: "hint" }, hyper + " · " + u.penalty + " · g = ∂L/∂w + penalty, on the explain batch"),
    h(
      "div",
      { class: "scroll" },
      h("table", { id: "update-table" }, h("tr", null, u.columns.map((c) => h("th", null, UPDATE_HEADS[c] || c))), rows),
    ),
  );
}

// Clicking a weight or bias (in either view) puts its name and value in the edit form; Set hands
// {layer, param, i, j, value} (1-based, as the diagram names them) to onSet.
function editByClick(card, form, onSet) {
  const name = form.querySelector("#edit-name"),
    value = form.querySelector("#edit-value");
  let editing = null;
  card.addEventListener(
    "click",
    (ev) => {
      const g = ev.target.closest && ev.target.closest(".edge, .bias, .label[data-param]");
      if (!g) return;
      const d = g.dataset,
        label = g.getAttribute("aria-label") || "";
      editing = { layer: +d.layer, param: d.param, i: d.i === undefined ? 1 : +d.i + 1, j: +d.j + 1 };
      name.textContent = d.param + "(" + d.layer + ")[" + (d.param === "W" ? editing.i + "," : "") + editing.j + "]";
      if (label.includes(" = ") && !label.startsWith("∂")) value.value = label.split(" = ").pop();
      value.focus();
    },
    true,
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (editing) onSet({ ...editing, value: value.value === "" ? null : Number(value.value) });
  });
}

// An export link fetched rather than followed: the file is saved under the server's name for it, and a refusal
// (the server's 400 and its reason) goes to onError instead of failing silently.
function downloadOnClick(a, onError) {
  a.addEventListener("click", (ev) => {
    ev.preventDefault();
    fetch(a.getAttribute("href")).then((r) => {
      if (!r.ok) return r.text().then(onError);
      const name = (/filename="([^"]+)"/.exec(r.headers.get("Content-Disposition") || "") || [])[1] || "model";
      return r.blob().then((b) => {
        const link = h("a", { href: URL.createObjectURL(b), download: name });
        link.click();
        setTimeout(() => URL.revokeObjectURL(link.href), 10000);
      });
    });
  });
}

// The hidden layers' buttons: a layer added or removed, a neuron added to or removed from each layer.
function layerButtons(layersBox, layers, change) {
  layersBox.textContent = "";
  const b = (id, text, part) => {
    const e = h("button", { type: "button", id }, text);
    e.addEventListener("click", () => change(part));
    return e;
  };
  layersBox.append(
    h("span", null, "hidden layers: " + layers.length),
    b("layers-add", "+ layer", { layers: [...layers, 2] }),
    b("layers-remove", "− layer", { layers: layers.slice(0, -1) }),
  );
  layers.forEach((n, l) => {
    const with_ = (m) => layers.map((x, q) => (q === l ? m : x));
    layersBox.append(
      h(
        "span",
        { class: "layer" },
        "layer " + (l + 1) + ": " + n + " ",
        b("neurons-add-" + l, "+", { layers: with_(n + 1) }),
        b("neurons-remove-" + l, "−", { layers: with_(n - 1) }),
      ),
    );
  });
}
