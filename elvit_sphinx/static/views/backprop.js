/* elvit-backprop: one training step on one image and its label (views/backprop.py).
 * State: {probs: "before" | "after", series: "activations" | "params", point, weight: [o, c, i, j]}.
 * The patch kernel (weights, gradients, map colours) arrives in chunks of output channels. */
elvit.register("backprop", async (view) => {
  const d = view.data, h = elvit.h, K = d.kernel, P = K.size, C = K.colours;
  // Gradients span many orders of magnitude: Python's f"{v:.4e}" (or .{digits}e), with a real
  // minus sign.
  const sci = (v, digits = 4) => {
    const [mantissa, exponent] = Number(v).toExponential(digits).split("e");
    const e = Number(exponent);
    return (mantissa + "e" + (e < 0 ? "-" : "+") + String(Math.abs(e)).padStart(2, "0")).replace(/-/g, "\u2212");
  };
  const fmt6 = (v) => elvit.fmt(v, 6);
  const state = {probs: "before", series: "activations", point: 0, weight: d.weight.index.slice()};

  // ------------------------------------------------------------------ loss and probabilities
  const labelNote = d.label_how === "option" ? elvit.t("chosen for this figure")
    : d.label_how === "image name" ? elvit.t("named by the image file {0}", d.image_name)
      : elvit.t("the model's own prediction: the image's name names no class");
  const lossLine = h("p", {class: "elvit-readout"},
    ...elvit.tParts("Label {0} ({1}). Loss L = −log p = {2}; after one SGD step on every weight " +
                    "(learning rate {3}) the loss on this image is {4}.",
                    h("b", null, d.label_name), labelNote, h("b", null, elvit.fmt(d.loss, 4)),
                    String(d.lr), h("b", null, elvit.fmt(d.loss_after, 4))));
  const probs = {before: Array.from(elvit.decode(d.probs)), after: Array.from(elvit.decode(d.probs_after))};
  const labelRow = d.classes.indexOf(d.label);
  const bars = elvit.charts.bars({labels: d.class_names, values: probs.before, max: 1, highlight: labelRow,
    width: 380, axisLabel: elvit.t("softmax probability"), format: (v) => v.toFixed(3),
    onHover: (i) => describeClass(i)});
  const classReadout = elvit.readout();
  function describeClass(i) {
    const p = probs[state.probs];
    if (i === null) {
      classReadout.replaceChildren(elvit.t("Hover a bar (or Tab to it) to read its probability; " +
                                           "the label's bar is highlighted."));
    } else {
      classReadout.replaceChildren(...elvit.tParts("{0}: probability {1}", h("b", null, d.class_names[i]),
                                                  elvit.fmt(p[i], 4)));
    }
  }
  const when = elvit.select({label: elvit.t("Probabilities"), value: "before",
    options: [["before", elvit.t("before the step")], ["after", elvit.t("after one SGD step")]],
    onChange: (value) => {
      state.probs = value;
      bars.update(probs[value], labelRow);
      describeClass(null);
      view.setState({probs: value});
    }});
  describeClass(null);

  // ------------------------------------------------------------------ gradient norms
  const series = {activations: d.activations, params: d.params};
  const normReadout = h("p", {class: "elvit-readout elvit-mono"});
  const plotBox = h("div", {class: "elvit-backprop-plot"});
  let plot = null, shown = null;
  const log10 = (v) => (v > 0 ? Math.log10(v) : NaN);

  function drawSeries(key) {
    const s = series[key], n = s.names.length, logs = s.norms.map(log10);
    const finite = logs.filter((v) => Number.isFinite(v));
    const low = Math.floor(Math.min(...finite)), high = Math.ceil(Math.max(...finite));
    const xs = Array.from({length: n}, (_, k) => k);
    // One tick where each block's tensors start, and where the embeddings' start (the head's
    // few tensors come first, left of the last block's tick).
    const ticks = xs.filter((k) => k > 0 && s.blocks[k] !== s.blocks[k - 1]);
    plot = elvit.charts.plot({width: 640, height: 280, xDomain: [-0.5, n - 0.5],
      yDomain: [low, high === low ? high + 1 : high],
      xLabel: key === "activations"
        ? elvit.t("tensor, in the order the gradient reaches it (block number; head first)")
        : elvit.t("parameter tensor, in the order the gradient reaches it (block number; head first)"),
      yLabel: elvit.t("log₁₀ ‖∂L/∂x‖"), xTickValues: ticks,
      xTickFormat: (k) => (s.blocks[k] === -2 ? elvit.t("emb") : `${s.blocks[k]}`)});
    const ys = logs.map((v) => (Number.isFinite(v) ? v : low));
    plot.line(xs, ys, "elvit-line");
    plot.points(xs, ys);
    plot.el.setAttribute("tabindex", "0");
    plot.el.setAttribute("role", "application");
    plot.el.setAttribute("aria-label", elvit.t("Gradient norms; arrow keys move from tensor to tensor"));
    plot.el.addEventListener("pointermove", (event) => {
      const k = Math.round(plot.pointer(event)[0]);
      if (k >= 0 && k < n && k !== state.point) choosePoint(k);
    });
    plot.el.addEventListener("keydown", (event) => {
      const moves = {ArrowLeft: -1, ArrowRight: 1, ArrowUp: 1, ArrowDown: -1};
      let k = state.point;
      if (moves[event.key] !== undefined) k += moves[event.key];
      else if (event.key === "Home") k = 0;
      else if (event.key === "End") k = n - 1;
      else return;
      event.preventDefault();
      choosePoint(Math.min(Math.max(k, 0), n - 1));
    });
    plotBox.replaceChildren(plot.el);
    shown = {key: key, ys: ys};
  }

  function choosePoint(k) {
    const s = series[state.series];
    state.point = k;
    plot.marker(k, shown.ys[k]);
    normReadout.replaceChildren(...elvit.tParts("{0} ({1}): ‖∂L/∂·‖ = {2}",
      h("b", null, s.names[k]), s.shapes[k], sci(s.norms[k])));
    view.setState({series: state.series, point: k});
  }

  const which = elvit.select({label: elvit.t("Gradient of"), value: "activations",
    options: [["activations", elvit.t("the activations (what flows back)")],
              ["params", elvit.t("every parameter tensor")]],
    onChange: (value) => { state.series = value; drawSeries(value); choosePoint(0); }});
  drawSeries("activations");

  // ------------------------------------------------------------------ one weight of the patch kernel
  const groups = {};
  const group = (o) => {
    const g = Math.floor(o / K.per_chunk);
    if (!groups[g]) {
      groups[g] = view.chunk("kernel-" + g).then((chunk) => ({first: chunk.first, w: elvit.decode(chunk.w),
        g: elvit.decode(chunk.g), codes: elvit.decode(chunk.codes)}));
    }
    return groups[g];
  };
  const palette = elvit.palette(d.palette);
  const kernelMap = new elvit.Picture({cols: C * P, rows: P, width: Math.min(480, 24 * C * P / 2), focusable: true,
    title: elvit.t("∂L/∂w for the kernel of one output channel, one panel per colour channel"),
    label: elvit.t("Gradient of one kernel; arrow keys move over its weights, Enter chooses one")});
  const weightReadout = h("p", {class: "elvit-readout elvit-mono", style: {minHeight: "4em"}});
  let current = null;  // the loaded group of the chosen output channel

  function showWeight(index) {
    const [o, c, i, j] = index, at = (((o - current.first) * C + c) * P + i) * P + j;
    const w = current.w[at], g = current.g[at];
    kernelMap.box("weight", c * P + j, i, 1, 1);
    // The recorded update of the weight the build chose; the page's own arithmetic for the others.
    const recorded = o === d.weight.index[0] && c === d.weight.index[1] && i === d.weight.index[2] &&
      j === d.weight.index[3];
    const after = recorded ? d.weight.after : Math.fround(w - Math.fround(d.lr * g));
    weightReadout.replaceChildren(
      elvit.t("w[{0}, {1}, {2}, {3}] = {4}  (output channel {0}, colour channel {1}, row {2}, column {3})",
              o, c, i, j, fmt6(w)), h("br"),
      elvit.t("∂L/∂w = {0}   lr = {1}   lr·∂L/∂w = {2}", sci(g), String(d.lr), sci(d.lr * g)), h("br"),
      ...elvit.tParts("after the step: w − lr·∂L/∂w = {0}", h("b", null, fmt6(after))));
  }

  async function chooseWeight(index, how) {
    const o = index[0];
    current = await group(o);
    if (how !== "hover") {
      state.weight = index.slice();
      view.setState({weight: state.weight});
    }
    kernelMap.drawCodes(current.codes, (o - current.first) * C * P * P, palette);
    kernelMap.setTitle(elvit.t("∂L/∂w for output channel {0}: colour channels 0 to {1}, {2}×{2} each, each " +
                              "panel coloured from its smallest to its largest value", o, C - 1, P));
    showWeight(index);
  }

  // The C panels sit side by side: column x of the map is colour x // P, kernel column x % P.
  kernelMap.onCells((cell, how) => {
    chooseWeight([state.weight[0], Math.floor(cell.col / P), cell.row, cell.col % P], how);
  });
  kernelMap.canvas.addEventListener("pointerleave", () => chooseWeight(state.weight, "hover"));
  const channelBox = elvit.numberBox({label: elvit.t("Output channel"), min: 0, max: K.channels - 1,
    value: state.weight[0], onChange: (o) => chooseWeight([o, state.weight[1], state.weight[2], state.weight[3]], "click")});

  // ------------------------------------------------------------------ finite differences
  const checks = h("table", {class: "elvit-backprop-checks elvit-mono"},
    h("thead", null, h("tr", null,
      h("th", null, elvit.t("weight")), h("th", null, elvit.t("autograd (this step, float32)")),
      h("th", null, elvit.t("autograd (float64)")), h("th", null, elvit.t("finite difference (float64)")),
      h("th", null, elvit.t("relative difference")))),
    h("tbody", null, d.checks.map((check) => {
      const scale = Math.max(Math.abs(check.autograd), Math.abs(check.numeric));
      const relative = scale > 0 ? Math.abs(check.autograd - check.numeric) / scale : 0;
      return h("tr", null, h("td", null, `${check.name}[${check.index.join(", ")}]`),
        h("td", null, sci(check.autograd)), h("td", null, sci(check.autograd64)),
        h("td", null, sci(check.numeric)), h("td", null, sci(relative, 1)));
    })));
  const checkNote = h("p", {class: "elvit-backprop-note"},
    elvit.t("Finite differences: (L(w + ε) − L(w − ε)) / 2ε with ε = {0}, each weight moved alone.", String(d.eps)));

  view.root.append(
    lossLine,
    h("div", {class: "elvit-controls"}, when.el),
    h("div", {class: "elvit-row"}, bars.el), classReadout,
    h("div", {class: "elvit-controls"}, which.el), plotBox, normReadout,
    h("div", {class: "elvit-controls"}, channelBox.el), kernelMap.el, weightReadout,
    checks, checkNote);
  choosePoint(0);
  await chooseWeight(state.weight, "click");
});
