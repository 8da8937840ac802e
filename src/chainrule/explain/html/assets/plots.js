// The replay page's plots: the loss curve with its epoch cursor, the decision boundary of a 2-D classifier, the
// weight heatmaps of layers too large to draw, and the JSON downloads.  Weights travel as base64 float32 and the
// decision surface as base64 bytes (probability × 255). It runs after the explain view's script (tools.js,
// diagram.js, view.js), whose helpers it uses. Classes get colours of their own, apart from the blue/red of a
// weight's sign in the diagram.
const COLORS = [
  "#0d9488",
  "#d97706",
  "#7c3aed",
  "#db2777",
  "#65a30d",
  "#0891b2",
  "#a16207",
  "#4b5563",
  "#9333ea",
  "#be123c",
];
const CURVE_COLORS = ["#1f2937", "#6b7280"];
const rgb = (c) => [1, 3, 5].map((q) => parseInt(c.slice(q, q + 2), 16));
function bytes(b64) {
  const bin = atob(b64),
    u = new Uint8Array(bin.length);
  for (let q = 0; q < bin.length; q++) u[q] = bin.charCodeAt(q);
  return u;
}
function floats(b64) {
  const u = bytes(b64),
    d = new DataView(u.buffer),
    out = new Float32Array(u.length / 4);
  for (let q = 0; q < out.length; q++) out[q] = d.getFloat32(4 * q, true);
  return out;
}
function f32(v) {
  for (let p = 6; p < 10; p++) {
    const t = Number(v.toPrecision(p));
    if (Math.fround(t) === v) return t;
  }
  return v;
}
function layers(data, snap) {
  const w = floats(snap.weights),
    out = [];
  let o = 0;
  for (const [nIn, nOut] of data.layout) {
    const W = [];
    for (let i = 0; i < nIn; i++) {
      W.push(Array.from(w.slice(o, o + nOut), f32));
      o += nOut;
    }
    out.push({ W, b: Array.from(w.slice(o, o + nOut), f32) });
    o += nOut;
  }
  return out;
}
function download(name, obj) {
  const url = URL.createObjectURL(new Blob([JSON.stringify(obj, null, 1)], { type: "application/json" }));
  const a = h("a", { href: url, download: name, hidden: "hidden" });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 2000);
}

// Text over a plot, in HTML so that it keeps its CSS size however the plot scales: (x, y) in the plot's
// viewBox units of W × H, anchored at its start, middle or end.
function overlay(box, x, y, W, H, text, anchor) {
  const tx = anchor === "end" ? "-100%" : anchor === "middle" ? "-50%" : "0";
  const at = "left: " + ((100 * x) / W).toFixed(2) + "%; top: " + ((100 * y) / H).toFixed(2) + "%; ";
  box.appendChild(h("span", { class: "tick", style: at + "transform: translate(" + tx + ", -50%)" }, text));
}

function curve(data) {
  const W = 520,
    H = 240,
    ml = 52,
    mr = 12,
    mt = 12,
    mb = 30,
    keys = ["loss", "val_loss"].filter((q) => data.logs[q]);
  const E = data.logs.loss.length,
    e0 = data.firstEpoch,
    all = keys.flatMap((q) => data.logs[q]);
  let lo = Math.min(...all),
    hi = Math.max(...all);
  const logY = lo > 0 && hi / lo > 30;
  const fy = (v) => (logY ? Math.log10(v) : v);
  if (logY) {
    lo = Math.log10(lo);
    hi = Math.log10(hi);
  }
  if (hi === lo) {
    hi += 1;
    lo -= 1;
  }
  const X = (e) => ml + ((e - e0 - 1) / Math.max(1, E - 1)) * (W - ml - mr),
    Y = (v) => mt + (1 - (fy(v) - lo) / (hi - lo)) * (H - mt - mb);
  const svg = s("svg", {
    class: "curve",
    viewBox: "0 0 " + W + " " + H,
    role: "img",
    "aria-label": "loss per epoch",
    id: "curve",
  });
  svg.appendChild(
    s("rect", { x: ml, y: mt, width: W - ml - mr, height: H - mt - mb, fill: "#fff", stroke: "#e5e7eb" }),
  );
  const box = h("div", { class: "overlaid", id: "curve-box" }, svg);
  const stride = Math.max(1, Math.floor(E / 1000));
  keys.forEach((q, c) => {
    let d = "";
    data.logs[q].forEach((v, k) => {
      if (k % stride === 0 || k === E - 1) d += (d ? "L" : "M") + X(e0 + k + 1).toFixed(1) + "," + Y(v).toFixed(1);
    });
    svg.appendChild(
      s("path", {
        d,
        fill: "none",
        stroke: CURVE_COLORS[c],
        "stroke-width": 2,
        "stroke-dasharray": c ? "5 4" : null,
      }),
    );
    const name = q === "loss" ? "training loss (solid)" : "validation loss (dashed)";
    overlay(box, W - mr - 4, mt + 12 + 16 * c, W, H, name, "end");
  });
  const tick = (v) => {
    const x = logY ? Math.pow(10, v) : v;
    return Math.abs(x) >= 0.01 && Math.abs(x) < 1e4 ? x.toPrecision(3) : x.toExponential(1);
  };
  overlay(box, ml - 4, mt + 4, W, H, tick(hi), "end");
  overlay(box, ml - 4, H - mb - 4, W, H, tick(lo), "end");
  overlay(box, ml, H - 10, W, H, "epoch " + (e0 + 1), "start");
  overlay(box, W - mr, H - 10, W, H, "epoch " + (e0 + E), "end");
  if (logY) overlay(box, ml + 6, mt + 12, W, H, "log scale", "start");
  const cur = s("line", { x1: 0, x2: 0, y1: mt, y2: H - mb, stroke: "#f59e0b", "stroke-width": 2 }),
    dot = s("circle", { r: 4.5, fill: "#f59e0b" });
  svg.append(cur, dot);
  return {
    el: box,
    move(epoch) {
      const k = epoch - e0 - 1,
        x = X(Math.max(epoch, e0 + 1)).toFixed(1);
      cur.setAttribute("x1", x);
      cur.setAttribute("x2", x);
      if (k >= 0) {
        dot.setAttribute("cx", x);
        dot.setAttribute("cy", Y(data.logs.loss[k]).toFixed(1));
        dot.removeAttribute("visibility");
      } else dot.setAttribute("visibility", "hidden");
    },
  };
}

// The decision boundary (or one neuron's output, with opts.small) over the plane: data.surface gives the
// grid and range, draw(snap) paints snap.surface (bytes, probability × 255). Points past data.points.nTrain,
// when given, are test points, drawn hollow.
function surface(data, opts) {
  const o = opts || {};
  const S = data.surface,
    G = S.grid,
    size = o.size || 360,
    canvas = h("canvas", {
      class: o.small ? "surface small" : "surface",
      width: size,
      height: size,
      id: o.small ? null : "surface",
      role: "img",
      "aria-label": o.label || "decision boundary",
    });
  const off = h("canvas", { width: G, height: G }),
    octx = off.getContext("2d"),
    ctx = canvas.getContext("2d"),
    img = octx.createImageData(G, G);
  const cols = (data.classNames && data.classNames.length ? data.classNames : ["0", "1"]).map((_, c) =>
    rgb(COLORS[c % COLORS.length]),
  );
  const px = (v, lo, hi) => ((v - lo) / (hi - lo)) * size;
  const tick = (v) => String(Number(v.toPrecision(2)));
  const box = o.small ? canvas : h("div", { class: "plot", id: "boundary-plot" }, canvas);
  for (let q = 0; q <= 4 && !o.small; q++) {
    const f = q / 4;
    const left = "left: calc(48px + (100% - 48px) * " + f + ")",
      top = "top: calc((100% - 24px) * " + f + ")";
    box.appendChild(h("span", { class: "tick tick-x", style: left }, tick(S.x0 + f * (S.x1 - S.x0))));
    box.appendChild(h("span", { class: "tick tick-y", style: top }, tick(S.y1 - f * (S.y1 - S.y0))));
  }
  return {
    canvas,
    box,
    draw(snap) {
      const p = bytes(snap.surface),
        C = S.channels;
      for (let q = 0; q < G * G; q++) {
        let c, conf;
        if (C === 1) {
          const v = p[q] / 255;
          c = cols[0].map((x, t) => x + (cols[1][t] - x) * v);
          conf = Math.abs(2 * v - 1);
        } else {
          let m = 0;
          for (let t = 1; t < C; t++) if (p[q * C + t] > p[q * C + m]) m = t;
          c = cols[m % cols.length];
          conf = (p[q * C + m] / 255 - 1 / C) / (1 - 1 / C);
        }
        const mix = 0.35 + 0.35 * conf;
        for (let t = 0; t < 3; t++) img.data[4 * q + t] = Math.round(255 + (c[t] - 255) * mix);
        img.data[4 * q + 3] = 255;
      }
      octx.putImageData(img, 0, 0);
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(off, 0, 0, size, size);
      if (!data.points || o.small) return;
      const nTrain = data.points.nTrain === undefined ? data.points.X.length : data.points.nTrain;
      data.points.X.forEach((pt, q) => {
        const colour = COLORS[data.points.y[q] % COLORS.length];
        ctx.beginPath();
        ctx.arc(px(pt[0], S.x0, S.x1), size - px(pt[1], S.y0, S.y1), q < nTrain ? 4 : 3.5, 0, 2 * Math.PI);
        ctx.fillStyle = q < nTrain ? colour : "#fff";
        ctx.fill();
        ctx.lineWidth = q < nTrain ? 1.2 : 2;
        ctx.strokeStyle = q < nTrain ? "#fff" : colour;
        ctx.stroke();
      });
    },
  };
}

function heatmaps(data) {
  const box = h("div", { class: "legend", id: "heatmaps" });
  return {
    box,
    draw(snap) {
      box.textContent = "";
      layers(data, snap).forEach((L, l) => {
        const nIn = L.W.length,
          nOut = L.b.length,
          c = h("canvas", {
            class: "heat",
            width: nOut,
            height: nIn,
            style:
              "width: " + Math.max(60, Math.min(300, nOut * 4)) + "px; height: " + Math.min(200, nIn * 4) + "px",
          });
        const ctx = c.getContext("2d"),
          img = ctx.createImageData(nOut, nIn);
        const m = Math.max(1e-12, ...L.W.flat().map(Math.abs));
        L.W.forEach((r, i) =>
          r.forEach((v, j) => {
            const col = v >= 0 ? PAL.pos : PAL.neg,
              a = Math.min(1, Math.abs(v) / m),
              q = 4 * (i * nOut + j);
            for (let t = 0; t < 3; t++) img.data[q + t] = Math.round(255 + (col[t] - 255) * a);
            img.data[q + 3] = 255;
          }),
        );
        ctx.putImageData(img, 0, 0);
        box.appendChild(
          h(
            "figure",
            { style: "margin: 0" },
            c,
            h("figcaption", null, "W(" + (l + 1) + ") " + nIn + "×" + nOut + ": rows inputs, columns units"),
          ),
        );
      });
    },
  };
}
