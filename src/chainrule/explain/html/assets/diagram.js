// The network drawn as SVG: the forward view (z and a on the neurons, W on the edges, b beside them) and the
// backward view (δ on the neurons, ∂L/∂W on the edges, ∂L/∂b beside them).  Colour shows the sign (blue
// positive, red negative) and an edge's width its size. Every weight, bias and neuron is focusable (tabindex)
// and carries its numbers in data- attributes for the tooltips. Small networks show their numbers on the
// drawing where a label fits without touching another (see placeLabel); larger ones on hover and focus only.
const PAL = { pos: [37, 99, 235], neg: [220, 38, 38] };
const fill = (v, max) => {
  const c = v >= 0 ? PAL.pos : PAL.neg,
    a = max > 0 ? 0.06 + (0.3 * Math.abs(v)) / max : 0.06;
  return "rgba(" + c.join(",") + "," + a.toFixed(3) + ")";
};
const sign = (v) => (v > 0 ? "pos" : v < 0 ? "neg" : "zero");

function drawNetwork(net, step, view, k) {
  const sizes = net.sizes,
    L = sizes.length - 1,
    maxU = Math.max(...sizes);
  const edges = sizes.slice(1).reduce((t, m, l) => t + m * sizes[l], 0);
  const big = maxU > 5 || edges > 40,
    edgeText = !big;
  const named = !!(net.inputNames || net.outputNames);
  const nodeW = big ? 16 : 140,
    nodeH = big ? 16 : 56,
    rowGap = big ? Math.max(26, Math.min(60, 480 / maxU)) : 116,
    colGap = big ? 230 : 340;
  const padX = big && named ? 130 : 24,
    top = 40,
    back = view === "backward";
  const width = 2 * padX + L * colGap + nodeW,
    height = top + maxU * rowGap + 8;
  const pos = sizes.map((m, l) =>
    Array.from({ length: m }, (_, j) => ({
      x: padX + l * colGap,
      y: top + ((maxU - m) * rowGap) / 2 + j * rowGap + rowGap / 2,
    })),
  );
  const svg = s("svg", {
    class: "diagram",
    viewBox: "0 0 " + width + " " + height,
    role: "group",
    "aria-label": (back ? "Backward" : "Forward") + " view of the network",
    id: "network",
  });
  const gE = s("g", { class: "edges" }),
    gL = s("g", { class: "labels" }),
    gN = s("g", { class: "nodes" });
  svg.append(gE, gL, gN);
  sizes.forEach((m, l) => {
    const title = l === 0 ? "input" : (l === L ? "output" : "layer " + l) + " · " + net.activations[l - 1];
    svg.appendChild(
      s("text", { x: pos[l][0].x + nodeW / 2, y: 18, "text-anchor": "middle", class: "name" }, title),
    );
  });
  const taken = obstacles(net, pos, nodeW, nodeH, big);
  let hidden = 0;
  let maxE = 0,
    maxN = 0;
  for (let l = 1; l <= L; l++) {
    const b = step.blocks[l - 1];
    for (const r of back ? b.dW : b.W) for (const v of r) maxE = Math.max(maxE, Math.abs(val(v)));
    for (const v of back ? b.db : b.b) maxE = Math.max(maxE, Math.abs(val(v)));
    for (const v of back ? b.delta[k] : b.a[k]) maxN = Math.max(maxN, Math.abs(val(v)));
  }
  for (let l = 1; l <= L; l++) {
    const b = step.blocks[l - 1],
      M = back ? b.dW : b.W;
    for (let i = 0; i < sizes[l - 1]; i++)
      for (let j = 0; j < sizes[l]; j++) {
        const p = pos[l - 1][i],
          q = pos[l][j],
          v = val(M[i][j]);
        const x1 = p.x + nodeW,
          y1 = p.y,
          x2 = q.x,
          y2 = q.y;
        const label = (back ? "∂L/∂" : "") + pname("W", l, [i, j]) + " = " + M[i][j];
        const g = s(
          "g",
          {
            class: "edge",
            tabindex: 0,
            "data-param": "W",
            "data-layer": l,
            "data-i": i,
            "data-j": j,
            "aria-label": label,
          },
          s("line", { class: "hit", x1, y1, x2, y2 }),
          s("line", {
            class: "vis " + sign(v),
            x1,
            y1,
            x2,
            y2,
            "stroke-width": (0.8 + (maxE > 0 ? (5.2 * Math.abs(v)) / maxE : 0)).toFixed(2),
          }),
        );
        if (edgeText) {
          const text = M[i][j],
            data = { "data-param": "W", "data-layer": l, "data-i": i, "data-j": j };
          const first = 0.3 + (sizes[l - 1] > 1 ? (0.4 * i) / (sizes[l - 1] - 1) : 0.2);
          const box = placeLabel(first, text, x1, y1, x2, y2, taken);
          if (box === null) hidden++;
          else {
            taken.push(box);
            gL.appendChild(
              s(
                "g",
                { class: "label", ...data },
                s("rect", {
                  class: "elabel-bg",
                  x: box.x0,
                  y: box.y0,
                  width: box.x1 - box.x0,
                  height: box.y1 - box.y0,
                }),
                s("text", { class: "elabel", x: (box.x0 + box.x1) / 2, y: box.y1 - 4.5, "text-anchor": "middle" }, text),
              ),
            ); // above every line, on a background that no line crosses
          }
        }
        gE.appendChild(g);
      }
  }
  sizes.forEach((m, l) => {
    for (let j = 0; j < m; j++) {
      const p = pos[l][j],
        b = l > 0 ? step.blocks[l - 1] : null;
      const nv = l === 0 ? val(step.x[k][j]) : val(back ? b.delta[k][j] : b.a[k][j]);
      const g = s("g", {
        class: "node",
        tabindex: 0,
        "data-layer": l,
        "data-j": j,
        "aria-label": fullName(net, l, j),
      });
      if (big) {
        g.appendChild(
          s("circle", {
            cx: p.x + nodeW / 2,
            cy: p.y,
            r: nodeW / 2,
            fill: l === 0 ? "#f3f4f6" : fill(nv, maxN),
            stroke: "#94a3b8",
          }),
        );
        const u = userName(net, l, j);
        if (u !== null)
          g.appendChild(
            s(
              "text",
              { x: l === 0 ? p.x - 6 : p.x + nodeW + 6, y: p.y + 4, "text-anchor": l === 0 ? "end" : "start" },
              short(u, 16),
            ),
          );
      } else {
        const y0 = p.y - nodeH / 2,
          u = userName(net, l, j);
        g.appendChild(
          s("rect", {
            x: p.x,
            y: y0,
            width: nodeW,
            height: nodeH,
            rx: 10,
            fill: l === 0 ? "#f3f4f6" : fill(nv, maxN),
            stroke: "#94a3b8",
          }),
        );
        g.appendChild(
          s(
            "text",
            { x: p.x + 8, y: y0 + 16, class: "name" },
            unitName(net, l, j) + (u === null ? "" : " " + short(u, 12)),
          ),
        );
        let lines;
        if (l === 0) lines = ["x = " + step.x[k][j]];
        else if (!back) lines = ["z = " + b.z[k][j], "a = " + b.a[k][j]];
        else if (b.fused) lines = ["δ = " + b.delta[k][j], "(fused step)"];
        else lines = ["∂L/∂a = " + b.upstream[k][j], "δ = " + b.delta[k][j]];
        lines.forEach((t, r) => g.appendChild(s("text", { x: p.x + 8, y: y0 + 33 + 15 * r }, t)));
      }
      gN.appendChild(g);
      if (l === 0) continue;
      const bv = back ? b.db[j] : b.b[j],
        label = (back ? "∂L/∂" : "") + pname("b", l, [j]) + " = " + bv;
      const bg = s("g", {
        class: "bias",
        tabindex: 0,
        "data-param": "b",
        "data-layer": l,
        "data-j": j,
        "aria-label": label,
      });
      if (big)
        bg.appendChild(
          s("rect", {
            x: p.x + nodeW - 2,
            y: p.y - nodeH / 2 - 6,
            width: 7,
            height: 7,
            fill: "#fff",
            class: sign(val(bv)),
            "stroke-width": 1.5,
          }),
        );
      else {
        bg.appendChild(
          s("rect", {
            x: p.x + 10,
            y: p.y - nodeH / 2 - 26,
            width: nodeW - 20,
            height: 20,
            rx: 5,
            fill: "#fff",
            class: sign(val(bv)),
            "stroke-width": 1.5,
          }),
        );
        bg.appendChild(s("text", { x: p.x + 18, y: p.y - nodeH / 2 - 12 }, (back ? "∂L/∂b " : "b ") + bv));
      }
      gN.appendChild(bg);
    }
  });
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.dataset.hiddenLabels = edgeText ? hidden : edges;
  svg.dataset.edges = edges;
  return svg;
}

// Edge labels are placed one by one where their box meets no other label, neuron, bias or title; a label
// with no free place is left off the drawing (its number stays on hover and focus) and counted.
const LABEL_FONT = 12,
  CHAR_W = 0.62 * LABEL_FONT; // a monospace digit is 0.6 em wide; the margin keeps the estimate safe
const overlaps = (a, b) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
function placeLabel(first, text, x1, y1, x2, y2, taken) {
  const w = text.length * CHAR_W + 8,
    hgt = LABEL_FONT + 6;
  const ts = [first, 0.5, 0.4, 0.6, 0.3, 0.7, 0.35, 0.65, 0.25, 0.75, 0.45, 0.55, 0.2, 0.8];
  for (const t of ts) {
    const cx = x1 + t * (x2 - x1),
      cy = y1 + t * (y2 - y1);
    const box = { x0: cx - w / 2, y0: cy - hgt / 2, x1: cx + w / 2, y1: cy + hgt / 2 };
    if (!taken.some((o) => overlaps(o, box))) return box;
  }
  return null;
}
function obstacles(net, pos, nodeW, nodeH, big) {
  const out = [];
  pos.forEach((col, l) => {
    const title = 8 * 12; // room for the column's title, centred over it
    out.push({ x0: col[0].x + nodeW / 2 - title, y0: 4, x1: col[0].x + nodeW / 2 + title, y1: 24 });
    col.forEach((p) => {
      out.push({ x0: p.x - 2, y0: p.y - nodeH / 2 - 2, x1: p.x + nodeW + 2, y1: p.y + nodeH / 2 + 2 });
      const top = p.y - nodeH / 2;
      if (l > 0 && !big) out.push({ x0: p.x + 8, y0: top - 28, x1: p.x + nodeW - 8, y1: top - 4 }); // the bias
    });
  });
  return out;
}
