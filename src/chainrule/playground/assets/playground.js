// The playground's page: the controls, the WebSocket to this tab's session, and the live views. It draws with
// the explain pages' own code (tools.js, diagram.js, view.js, plots.js): drawNetwork for the network, curve for
// the losses, surface for the decision boundary and each neuron's output, explainView for the paused step.
// Every string from the server or from a file goes into the page with textContent, never as HTML.
const CONFIG = JSON.parse(document.getElementById("cr-data").textContent);
const APP = document.getElementById("app");
const safeId = (name) => name.replace(/[^a-z0-9]/gi, "_");

function queryObject() {
  const out = {};
  new URLSearchParams(location.search).forEach((v, k) => {
    out[k] = v;
  });
  return out;
}
function toQuery(settings) {
  const q = new URLSearchParams();
  Object.keys(settings).forEach((k) => q.set(k, Array.isArray(settings[k]) ? settings[k].join(",") : settings[k]));
  return "?" + q.toString();
}

function playground() {
  const st = { settings: null, net: null, id: null, playing: false, view: null, frame: null, ready: false };
  const viewFlags = { showTest: false, discretize: false }; // views only: they change no training
  const message = h("p", { id: "message", role: "alert", class: "message", hidden: "hidden" });
  const status = h("p", { id: "status", class: "meta" }, "connecting…");
  APP.append(h("h1", null, "chainrule playground"), status, message);

  // ---------------------------------------------------------------- controls
  const select = (id, label, options) =>
    h("label", null, label + " ", h("select", { id }, options.map((o) => h("option", { value: o }, o))));
  const number = (id, label, attrs) => h("label", null, label + " ", h("input", { id, type: "number", ...attrs }));
  const range = (id, label, attrs) =>
    h("label", null, label + " ", h("input", { id, type: "range", ...attrs }), h("output", { id: id + "-value" }));
  const featureBoxes = CONFIG.features.map((f) =>
    h(
      "label",
      { class: "check" },
      h("input", { type: "checkbox", id: "feature-" + safeId(f), "data-feature": f }),
      CONFIG.featureLabels[f],
    ),
  );
  const layersBox = h("div", { id: "layers", class: "toolbar" });
  const upload = h("input", { type: "file", id: "upload", accept: ".csv,text/csv" });
  const uploadNote = h("span", { id: "upload-note", class: "hint" });
  const play = h("button", { type: "button", id: "play", "aria-pressed": "false" }, "▶ Play");
  const stepB = h("button", { type: "button", id: "step" }, "Step one epoch");
  const reset = h("button", { type: "button", id: "reset" }, "Reset");
  const epoch = h("span", { id: "epoch", class: "mono" }, "epoch 0");
  const scores = h("span", { id: "scores", class: "mono" });
  const exports = ["npz", "onnx", "replay"].map((k) =>
    h(
      "a",
      { id: "export-" + k, class: "button", href: "#", download: "" },
      "Export " + (k === "replay" ? "replay page" : "." + k),
    ),
  );
  const transport = h(
    "section",
    { class: "card", id: "transport" },
    h("div", { class: "toolbar" }, play, stepB, reset, epoch, scores),
    h(
      "div",
      { class: "toolbar" },
      h("label", { class: "check" }, h("input", { type: "checkbox", id: "show-test" }), "show test data"),
      h("label", { class: "check" }, h("input", { type: "checkbox", id: "discretize" }), "discretize output"),
    ),
  );
  const controls = h(
    "section",
    { class: "card", id: "controls" },
    h(
      "div",
      { class: "toolbar" },
      select("dataset", "data", CONFIG.datasets),
      range("noise", "noise", { min: 0, max: 0.5, step: 0.05 }),
      range("train_ratio", "train share", { min: 0.1, max: 0.9, step: 0.1 }),
      number("batch_size", "batch", { min: 1, max: 10000, step: 1 }),
      h("label", null, "upload CSV (x1, x2, label) ", upload),
      uploadNote,
    ),
    h("div", { class: "toolbar", id: "features" }, h("span", null, "features:"), featureBoxes),
    layersBox,
    h(
      "div",
      { class: "toolbar" },
      select("activation", "activation", ["tanh", "relu", "sigmoid", "identity"]),
      number("lr", "learning rate", { min: 0, step: "any" }),
      select("optimizer", "optimizer", ["sgd", "adam", "rmsprop"]),
      select("regularization", "regularisation", ["none", "l1", "l2"]),
      number("reg_rate", "rate", { min: 0, step: "any" }),
      number("seed", "seed", { min: 0, step: 1 }),
    ),
    h("div", { class: "toolbar" }, exports),
  );
  const diagramBox = h("div", { class: "figure", id: "pg-diagram" });
  const diagramTitle = h("h2", null, "Network"),
    diagramHint = h(
      "p",
      { class: "hint", id: "diagram-hint" },
      "Pause, then click or Tab to a neuron or weight for its explain step.",
    );
  const editName = h("span", { id: "edit-name", class: "mono" }, "(click a weight or bias)");
  const editValue = h("input", { id: "edit-value", type: "number", step: "any", "aria-label": "new value" });
  const editForm = h(
    "form",
    { id: "edit-form", class: "toolbar" },
    h("span", null, "set"),
    editName,
    h("span", null, "to"),
    editValue,
    h("button", { type: "submit", id: "edit-set" }, "Set"),
  );
  const diagramCard = h("section", { class: "card", id: "pg-diagram-card" }, diagramTitle, diagramHint, diagramBox);
  const editCard = h("div", { id: "edit-card" }, editForm);
  const boundaryCard = h("section", { class: "card", id: "boundary-card" }, h("h2", null, "Decision boundary"));
  const neuronsCard = h(
    "section",
    { class: "card", id: "neurons-card" },
    h("h2", null, "Each hidden neuron's output over the plane"),
    h("p", { class: "hint" }, "pale: low, strong: high (its own scale); the same plane as the boundary"),
  );
  const curveCard = h("section", { class: "card", id: "curve-card" }, h("h2", null, "Loss per epoch"));
  const explainBox = h("div", { id: "explain-section" });
  const cards = [transport, controls, diagramCard, boundaryCard, curveCard, neuronsCard];
  APP.append(h("div", { class: "pg" }, cards), explainBox);
  diagramCard.appendChild(editCard);

  // ---------------------------------------------------------------- the connection
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  const send = (m) => ws.readyState === 1 && ws.send(JSON.stringify(m));
  const showError = (text) => {
    message.textContent = text;
    message.hidden = false;
  };
  ws.addEventListener("open", () => send({ type: "settings", settings: queryObject() }));
  ws.addEventListener("close", () => {
    status.textContent = "disconnected: the server has stopped; start it again and reload.";
    setPlaying(false);
  });
  ws.addEventListener("message", (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === "error") {
      showError(m.message);
      if (m.full) st.full = true; // the server trains no more tabs: nothing to ask for
      else if (!st.ready && !st.triedDefaults) {
        st.triedDefaults = true; // the URL's settings were refused: the defaults, once
        send({ type: "settings", settings: {} });
      } else if (st.ready) showSettings(st.settings); // a refused value returns to the last good one
    } else if (m.type === "ready") ready(m);
    else if (m.type === "frame") queue(m);
    else if (m.type === "explain") explained(m);
    else if (m.type === "uploaded") {
      uploadNote.textContent =
        m.rows + " rows; columns " + m.names.join(", ") + "; classes " + m.classes.join(", ");
      change({ dataset: "upload" });
    }
  });

  // ---------------------------------------------------------------- settings
  function change(part) {
    message.hidden = true;
    send({ type: "settings", settings: { ...st.settings, ...part } });
  }
  const read = (id) => document.getElementById(id);
  ["dataset", "activation", "optimizer", "regularization"].forEach((id) =>
    read(id).addEventListener("change", () => change({ [id]: read(id).value })),
  );
  ["noise", "train_ratio", "batch_size", "lr", "reg_rate", "seed"].forEach((id) =>
    read(id).addEventListener("change", () => change({ [id]: read(id).value })),
  );
  featureBoxes.forEach((l) =>
    l.firstChild.addEventListener("change", () =>
      change({ features: CONFIG.features.filter((f) => read("feature-" + safeId(f)).checked) }),
    ),
  );
  upload.addEventListener("change", () => {
    const file = upload.files[0];
    if (!file) return;
    file.arrayBuffer().then((buf) => {
      const u = new Uint8Array(buf);
      let bin = "";
      for (let q = 0; q < u.length; q += 0x8000) bin += String.fromCharCode(...u.subarray(q, q + 0x8000));
      send({ type: "upload", data: btoa(bin) });
    });
  });

  function showSettings(s) {
    const ids = ["dataset", "activation", "optimizer", "regularization", "noise", "train_ratio", "batch_size"];
    [...ids, "lr", "reg_rate", "seed"].forEach((id) => {
      read(id).value = s[id];
      const out = read(id + "-value");
      if (out) out.textContent = s[id];
    });
    CONFIG.features.forEach((f) => {
      read("feature-" + safeId(f)).checked = s.features.includes(f);
    });
    layerButtons(layersBox, s.layers, change);
    history.replaceState(null, "", toQuery(s));
  }

  // ---------------------------------------------------------------- views
  let surf = null,
    neurons = [];
  function ready(m) {
    st.readyMessage = m;
    st.regression = m.regression;
    st.inputImages = m.inputs.map((b) => gridImage(b, CONFIG.grid));
    st.settings = m.settings;
    st.net = m.net;
    st.id = m.id;
    showSettings(m.settings);
    exports.forEach((a) => a.setAttribute("href", "/export/" + m.id + "/" + a.id.slice(7)));
    const E = CONFIG.extent;
    const data = {
      surface: { grid: CONFIG.grid, channels: 1, x0: -E, x1: E, y0: -E, y1: E },
      points: m.points,
      classNames: m.classNames,
    };
    surf = boundary(m);
    st.ready = true;
    boundaryCard.replaceChildren(
      h("h2", null, m.regression ? "Output ŷ over the plane" : "Decision boundary"),
      surf.box,
      h(
        "div",
        { class: "legend" },
        m.classNames.map((n, c) =>
          h("span", null, h("span", { class: "swatch dot", style: "background:" + COLORS[c] }), n),
        ),
        h("span", null, m.regression ? "colour: the value from −1 to +1" : ""),
        h("span", null, "filled: training points, hollow: test points (show test data)"),
      ),
      h("p", { class: "hint" }, "horizontal: " + m.pointNames[0] + " · vertical: " + m.pointNames[1]),
    );
    neuronsCard.replaceChildren(neuronsCard.firstChild, neuronsCard.children[1]);
    neurons = m.settings.layers.map((n, l) => {
      const row = h("div", { class: "neuron-row" }, h("span", { class: "hint" }, "layer " + (l + 1)));
      neuronsCard.appendChild(row);
      return Array.from({ length: n }, (_, j) => {
        const v = surface(data, { small: true, size: 64, label: "neuron " + (j + 1) + " of layer " + (l + 1) });
        row.appendChild(v.box);
        return v;
      });
    });
    status.textContent = "session " + m.id.slice(0, 6) + " · " + m.net.model;
    setPlaying(false);
    leaveExplain();
  }
  // Frames are drawn once per animation frame: a page that falls behind skips to the latest one.
  let pending = null;
  function queue(m) {
    if (m.since === 0 || !st.logs) st.logs = { loss: [], val_loss: [] };
    Object.keys(st.logs).forEach((k) => st.logs[k].push(...m.logs[k]));
    m.logs = st.logs;
    if (m.paused) {
      pending = null;
      frame(m);
      return;
    }
    if (pending && pending.neurons && !m.neurons) Object.assign(m, { neurons: pending.neurons, step: pending.step });
    if (pending === null) requestAnimationFrame(() => {
      const latest = pending;
      pending = null;
      if (latest) frame(latest);
    });
    pending = m;
  }
  function frame(m) {
    st.frame = m;
    epoch.textContent = "epoch " + m.epoch;
    epoch.dataset.frames = String(+(epoch.dataset.frames || 0) + 1);
    const last = (k) => (m.logs[k].length ? m.logs[k][m.logs[k].length - 1].toFixed(4) : "–");
    scores.textContent =
      "training loss " +
      last("loss") +
      " · test loss " +
      last("val_loss") +
      (st.regression ? " (mean squared error)" : " · test accuracy " + (100 * m.accuracy.test).toFixed(1) + " %");
    scores.dataset.testAccuracy = st.regression ? "" : m.accuracy.test;
    drawSurface(m);
    if (m.logs.loss.length)
      curveCard.replaceChildren(
        curveCard.firstChild,
        curveWithLegend(m.logs, st.regression ? "mean squared error" : "cross-entropy"),
      );
    // The network, the neurons and their images: in the frames that carry them (four a second while playing)
    if (m.neurons) {
      m.neurons.forEach((layer, l) =>
        layer.forEach((b64, j) => neurons[l] && neurons[l][j] && neurons[l][j].draw({ surface: b64 })),
      );
      st.images = {};
      st.inputImages.forEach((url, j) => (st.images["0," + j] = url));
      neurons.forEach((layer, l) => layer.forEach((v, j) => (st.images[l + 1 + "," + j] = v.canvas.toDataURL())));
      if (!st.view) {
        diagramBox.replaceChildren(drawNetwork(st.net, m.step, "forward", 0));
        naturalSize(diagramBox);
        paintNodes(diagramBox.querySelector("svg"), st.images);
      }
    }
    if (m.stopped) showError(m.stopped);
    if (m.paused) {
      setPlaying(false);
      send({ type: "explain" });
    }
  }
  // The boundary's plot for the session of ready message m, with the points the toggles ask for.
  function boundary(m) {
    const E = CONFIG.extent,
      n = m.points.nTrain;
    const shown = viewFlags.showTest ? m.points : { X: m.points.X.slice(0, n), y: m.points.y.slice(0, n), nTrain: n };
    const surface_ = { grid: CONFIG.grid, channels: 1, x0: -E, x1: E, y0: -E, y1: E };
    return surface({ surface: surface_, points: m.regression ? null : shown, classNames: m.classNames });
  }
  function drawSurface(m) {
    surf.draw({ surface: viewFlags.discretize ? discretized(m.surface) : m.surface });
    if (st.regression) drawValuePoints(surf.canvas, st.readyMessage.points, viewFlags.showTest, CONFIG.extent);
  }
  function explained(m) {
    if (st.playing) return;
    document.querySelectorAll(".tip").forEach((e) => e.remove());
    const v = explainView(m.data.net, m.data.step);
    st.view = v;
    v.diagram.querySelector("h2").textContent =
      "Network at epoch " + m.epoch + ": the explain step (first " + m.data.net.n + " training samples)";
    diagramCard.replaceChildren(...v.diagram.childNodes, editCard); // the explain view's diagram, in this card
    naturalSize(diagramCard);
    const svg = diagramCard.querySelector("svg.diagram");
    if (svg && st.images) paintNodes(svg, st.images);
    explainBox.replaceChildren(...v.details.childNodes, updateTable(m.data.update));
    explainBox.dataset.epoch = m.epoch;
  }
  function leaveExplain() {
    if (!st.view) return;
    st.view.tip.hide();
    st.view = null;
    diagramCard.replaceChildren(diagramTitle, diagramHint, diagramBox, editCard);
    explainBox.replaceChildren();
  }
  function setPlaying(on) {
    st.playing = on;
    play.textContent = on ? "❚❚ Pause" : "▶ Play";
    play.setAttribute("aria-pressed", String(on));
  }
  ["show-test", "discretize"].forEach((id) =>
    read(id).addEventListener("change", () => {
      viewFlags[id === "show-test" ? "showTest" : "discretize"] = read(id).checked;
      if (!st.readyMessage || !surf) return;
      const old = surf.box;
      surf = boundary(st.readyMessage);
      old.replaceWith(surf.box);
      if (st.frame) drawSurface(st.frame);
    }),
  );
  editByClick(diagramCard, editForm, (edit) => {
    message.hidden = true;
    leaveExplain();
    send({ type: "edit", ...edit });
  });
  exports.forEach((a) => downloadOnClick(a, (text) => showError("Export failed: " + text)));
  play.addEventListener("click", () => {
    if (st.playing) {
      send({ type: "pause" });
      return;
    }
    message.hidden = true;
    leaveExplain();
    setPlaying(true);
    send({ type: "play" });
  });
  stepB.addEventListener("click", () => {
    leaveExplain();
    send({ type: "step" });
  });
  reset.addEventListener("click", () => {
    leaveExplain();
    send({ type: "reset" });
  });
}

playground();
