// The replay page's entry point: play/pause and an epoch slider drive the network diagram, the loss curve's
// cursor and the decision boundary; while paused, the explained step at that epoch is shown, with the same
// numbers as chainrule explain.
function renderReplay(app, data) {
  const net = data.net,
    snaps = data.snapshots,
    last = snaps.length - 1;
  app.append(
    h("h1", null, data.title),
    h(
      "p",
      { class: "meta", id: "replay-meta" },
      "seed " +
        data.seed +
        " · " +
        data.epochs +
        " epochs · a snapshot every " +
        data.every +
        " epoch(s), " +
        snaps.length +
        " in all · loss " +
        data.lossName +
        " · optimizer " +
        data.optimizer,
    ),
  );
  const play = h("button", { type: "button", id: "play", "aria-pressed": "false" }, "▶ Play");
  const slider = h("input", {
    type: "range",
    id: "epoch",
    min: 0,
    max: last,
    step: 1,
    value: last,
    "aria-label": "epoch",
  });
  const label = h("span", { id: "epoch-label", class: "mono" }),
    logs = h("span", { id: "epoch-logs", class: "mono" });
  const dW = h("button", { type: "button", id: "download-weights" }, "Download weights (JSON)");
  const dD = h("button", { type: "button", id: "download-data" }, "Download data (JSON)");
  const controls = h(
    "section",
    { class: "card", id: "controls" },
    h("div", { class: "toolbar" }, play, slider, label),
    h("div", { class: "toolbar" }, logs),
    h("div", { class: "toolbar" }, dW, dD),
  );
  const view = explainView(net, snaps[last].step),
    cv = curve(data);
  const curveTitle = h("h2", null, "Loss per epoch (fit's History)");
  const curveCard = h("section", { class: "card", id: "curve-card" }, curveTitle, cv.el);
  let surf = null,
    heat = null,
    boundary = null;
  if (data.surface) {
    surf = surface(data);
    boundary = boundaryCard(data, surf);
  }
  if (!net.drawn) {
    heat = heatmaps(data);
    view.diagram.appendChild(heat.box);
  }
  // one grid: on a wide screen the diagram beside the plots, on a narrow one the boundary right under Play
  const layout = boundary ? "replay" : "replay no-boundary";
  app.appendChild(h("div", { class: layout }, controls, view.diagram, curveCard, boundary));
  const stepTitle = h("h2", { id: "step-title" });
  const stepScope =
    net.n < data.nTrain
      ? "this step: the first " + net.n + " of " + data.nTrain + " samples"
      : "this step: all " + net.n + " samples";
  const stepBox = h(
    "section",
    { id: "step" },
    h(
      "div",
      { class: "card" },
      stepTitle,
      h(
        "p",
        { class: "hint" },
        "One training step on the first " +
          net.n +
          " of " +
          data.nTrain +
          " training samples, with the weights after this epoch: the same numbers as chainrule's explain. " +
          "Its loss L is over those samples only; the epoch's loss above is over all of them.",
      ),
    ),
    view.details,
  );
  app.appendChild(stepBox);
  let index = last,
    timer = null;
  const epochText = (e) =>
    (e === data.firstEpoch ? "epoch " + e + " (before training)" : "epoch " + e) + " of " + data.epochs;
  function set(q) {
    index = q;
    slider.value = q;
    const snap = snaps[q];
    label.textContent = epochText(snap.epoch);
    logs.textContent = snap.logs
      ? "this epoch, over all " +
        data.nTrain +
        " samples: " +
        Object.keys(snap.logs)
          .map((k) => k + " " + snap.logs[k])
          .join(" · ")
      : "no epoch finished yet";
    slider.setAttribute("aria-valuetext", epochText(snap.epoch));
    document.getElementById("diagram-title").textContent = "Network at " + epochText(snap.epoch);
    stepTitle.textContent =
      "The training step at epoch " + snap.epoch + ": " + stepScope + ", L = " + snap.step.loss.value;
    view.update(snap.step);
    cv.move(snap.epoch);
    if (surf) surf.draw(snap);
    if (heat) heat.draw(snap);
  }
  function stop() {
    clearInterval(timer);
    timer = null;
    play.textContent = "▶ Play";
    play.setAttribute("aria-pressed", "false");
    stepBox.hidden = false;
  }
  play.addEventListener("click", () => {
    if (timer) {
      stop();
      return;
    }
    if (index >= last) set(0);
    play.textContent = "❚❚ Pause";
    play.setAttribute("aria-pressed", "true");
    stepBox.hidden = true;
    view.tip.hide();
    timer = setInterval(
      () => {
        if (index >= last) stop();
        else set(index + 1);
      },
      Math.min(400, Math.max(60, 6000 / snaps.length)),
    );
  });
  slider.addEventListener("input", () => {
    if (timer) stop();
    set(+slider.value);
  });
  dW.addEventListener("click", () => {
    const snap = snaps[index];
    download("weights-epoch-" + snap.epoch + ".json", {
      model: net.model,
      seed: data.seed,
      epoch: snap.epoch,
      dtype: "float32",
      logs: snap.logs,
      layers: layers(data, snap),
    });
  });
  dD.addEventListener("click", () =>
    download("replay-data.json", {
      model: net.model,
      seed: data.seed,
      featureNames: data.featureNames,
      classNames: data.classNames,
      firstEpoch: data.firstEpoch,
      history: data.logs,
      snapshotEpochs: snaps.map((q) => q.epoch),
      points: data.points,
      batch: data.batch,
    }),
  );
  set(last);
}

function boundaryCard(data, surf) {
  const names =
    data.classNames && data.classNames.length
      ? data.classNames
      : Array.from({ length: Math.max(2, data.surface.channels) }, (_, c) => "class " + c);
  const swatch = (c) => h("span", { class: "swatch dot", style: "background:" + COLORS[c % COLORS.length] });
  return h(
    "section",
    { class: "card", id: "boundary-card" },
    h("h2", null, "Decision boundary"),
    surf.box,
    h(
      "div",
      { class: "legend" },
      names.map((n, c) => h("span", null, swatch(c), n)),
      h("span", null, "shade: the predicted class, paler where the model is unsure"),
    ),
    h(
      "p",
      { class: "hint" },
      "horizontal: " +
        (data.featureNames ? data.featureNames[0] : "x₁") +
        " · vertical: " +
        (data.featureNames ? data.featureNames[1] : "x₂"),
    ),
  );
}
