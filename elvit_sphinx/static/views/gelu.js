/* elvit-gelu: the GELU curve with one token's fc1 → GELU numbers on it (views/gelu.py documents
 * the directive). The page holds the starting (block, token); the others are chunks. The
 * player walks the token's points from the most negative input to the most positive.
 * State: {block, token, step, feature, playing, loading}. */
elvit.register("gelu", (view) => {
  const d = view.data, h = elvit.h;
  const T = d.tokens, G = d.grid, S = d.size, P = d.patch, M = d.mlp, D = d.hidden;
  const image = elvit.decode(d.image);
  const f4 = (v) => elvit.fmt(v, 4);

  // ------------------------------------------------------------------ the two formulas
  /* erf in float64: its Taylor series up to |x| = 3, Laplace's continued fraction for erfc beyond. */
  function erf(x) {
    const a = Math.abs(x);
    if (a <= 3) {
      let term = a, sum = a;
      for (let n = 1; n < 80 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
        term *= -a * a / n;
        sum += term / (2 * n + 1);
      }
      return Math.sign(x) * sum * 2 / Math.sqrt(Math.PI);
    }
    let fraction = a;
    for (let k = 60; k >= 1; k--) fraction = a + (k / 2) / fraction;
    return Math.sign(x) * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / fraction);
  }
  const exact = (x) => 0.5 * x * (1 + erf(x / Math.SQRT2));
  const approx = (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

  // ------------------------------------------------------------------ charts
  const [x0, x1] = d.x_range;
  const curveX = Array.from({length: 481}, (_, i) => x0 + (x1 - x0) * i / 480);
  const plot = elvit.charts.plot({width: 520, height: 300, xDomain: [x0, x1], yDomain: [Math.min(-0.5, d.minimum.y), x1],
    xLabel: elvit.t("x: what fc1 gave (input of GELU)"), yLabel: "GELU(x)", title: elvit.t("GELU, and the {0} numbers of one token", M)});
  // Each line goes under the ones drawn before it: the dashed approximation stays visible on top.
  plot.line(curveX, curveX.map(approx), "elvit-gelu-tanh");
  plot.line(curveX, curveX.map(exact), "elvit-line");
  const diffScale = 1e4;
  const diffY = curveX.map((x) => (exact(x) - approx(x)) * diffScale);
  const diffTop = Math.max(1, Math.ceil(Math.max(...diffY.map(Math.abs))));
  const diffPlot = elvit.charts.plot({width: 520, height: 130, xDomain: [x0, x1], yDomain: [-diffTop, diffTop],
    xLabel: "x", yLabel: "× 10⁻⁴", title: elvit.t("exact − tanh approximation")});
  diffPlot.line(curveX, diffY, "elvit-line");
  /* The thousands of dots are drawn on a canvas over the chart and the moving marker is a
   * composited element above it: a step or a hover then repaints nothing of the chart. (As SVG,
   * moving the marker re-rasterised every dot under it: ~9 ms a step on a 2-core machine, and
   * drawing a token's 3072 dots cost more than a frame.) Positions are fractions of the chart's
   * size, so dots and marker stay on the curve when the chart is scaled down to fit the page. */
  const chartWidth = Number(plot.el.getAttribute("width")), chartHeight = Number(plot.el.getAttribute("height"));
  const ratio = Math.min(2, window.devicePixelRatio || 1);
  const dotsCanvas = h("canvas", {class: "elvit-gelu-dots", width: chartWidth * ratio, height: chartHeight * ratio});
  const markerEl = h("div", {class: "elvit-gelu-marker", "aria-hidden": "true"});
  const chartBox = h("div", {class: "elvit-gelu-chart"}, plot.el, dotsCanvas, markerEl);
  const dotsContext = dotsCanvas.getContext("2d");
  function drawDots(xs, ys) {
    const ctx = dotsContext, radius = 2.5;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, chartWidth, chartHeight);
    ctx.fillStyle = getComputedStyle(dotsCanvas).color;  // the theme's colour (elvit.css)
    ctx.globalAlpha = 0.5;
    ctx.beginPath();
    for (let i = 0; i < xs.length; i++) {
      const px = plot.x(xs[i]), py = plot.y(ys[i]);
      ctx.moveTo(px + radius, py);
      ctx.arc(px, py, radius, 0, 2 * Math.PI);
    }
    ctx.fill();
  }
  function moveMarker(x, y) {
    markerEl.style.left = (100 * plot.x(x) / chartWidth) + "%";
    markerEl.style.top = (100 * plot.y(y) / chartHeight) + "%";
    markerEl.hidden = false;
  }
  const worst = d.tanh_error;
  const legend = h("p", {class: "elvit-legend"}, elvit.tParts("Solid blue: exact GELU, 0.5·x·(1 + erf(x/√2)). " +
    "Dashed red: the tanh approximation 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), at most {0} away (at x = ±{1}). " +
    "Lowest point of GELU: {2} at x = {3}. Dots: the token's {4} (fc1, GELU) pairs.",
    h("b", null, elvit.fmt(Math.abs(worst.difference) * diffScale, 2) + "·10⁻⁴"), elvit.fmt(worst.x, 2),
    f4(d.minimum.y), f4(d.minimum.x), M));

  // ------------------------------------------------------------------ data on demand
  const chunkName = (b, t) => `b${b}-t${t}`;
  const loaded = new Map([[chunkName(d.start.block, d.start.token), Promise.resolve(d.first)]]);
  const prepared = new Map();

  function load(b, t) {
    const name = chunkName(b, t);
    if (!loaded.has(name)) loaded.set(name, view.chunk(name));
    return loaded.get(name);
  }

  /* The token's points, and their order from the most negative input to the most positive. */
  async function tokenData(b, t) {
    const name = chunkName(b, t);
    if (!prepared.has(name)) {
      const payload = await load(b, t);
      const xs = elvit.decode(payload.fc1), ys = elvit.decode(payload.gelu);
      const order = Uint32Array.from({length: M}, (_, i) => i).sort((i, j) => xs[i] - xs[j]);
      const sortedX = Float64Array.from(order, (i) => xs[i]);
      let negative = 0;
      for (const x of xs) if (x < 0) negative++;
      prepared.set(name, {xs: xs, ys: ys, order: order, sortedX: sortedX, negative: negative});
    }
    return prepared.get(name);
  }

  function prefetch(b, t) {
    const ignore = () => {};
    for (const [bb, tt] of [[b, t + 1], [b, t - 1], [b + 1, t]]) {
      if (bb < d.blocks && tt >= 0 && tt < T) load(bb, tt).catch(ignore);
    }
  }

  // ------------------------------------------------------------------ image, flow, readouts
  const picture = new elvit.Picture({cols: S, rows: S, width: 200, pick: {cols: G, rows: G}, focusable: true, className: "elvit-gelu-image",
    title: elvit.t("Click a patch to pick its token"),
    label: elvit.t("The image's patch grid; click a patch, or use the arrow keys and Enter, to pick its token")});
  picture.drawRGB(image);
  picture.gridLines();
  const readout = elvit.readout("elvit-readout-tall elvit-gelu-point-text"), summary = elvit.readout("elvit-gelu-token-text");
  const status = h("span", {class: "elvit-message", role: "status"});
  const fc1Value = h("span", {class: "elvit-flow-value"}), geluValue = h("span", {class: "elvit-flow-value"});
  const step = (name, shape, extra, currentStep) => h("span", {class: "elvit-flow-step" + (currentStep ? " elvit-flow-current" : "")},
    h("b", null, name), h("br"), shape, extra || null);
  const arrow = () => h("span", {class: "elvit-flow-arrow", "aria-hidden": "true"}, "→");
  const flow = h("div", {class: "elvit-flow", role: "img",
    "aria-label": elvit.t("MLP of one block: {0} numbers per token, widened to {1} by fc1, GELU on each, narrowed back to " +
                          "{0} by fc2, added to the residual stream", D, M)},
    step(elvit.t("LayerNorm"), `${T}×${D}`), arrow(), step("fc1", `${D} → ${M}`, fc1Value), arrow(),
    step("GELU", elvit.t("each of {0}", M), geluValue, true), arrow(), step("fc2", `${M} → ${D}`), arrow(),
    step(elvit.t("+ residual"), `${T}×${D}`));
  const tokenWhere = (t) => (t === 0 ? elvit.t("the CLS token")
    : elvit.t("token {0} = patch {1} (row {2}, col {3})", t, t - 1, Math.floor((t - 1) / G), (t - 1) % G));

  let current = null;  // {block, token, data}

  function render(index, playing) {
    if (!current) return;
    const data = current.data, feature = data.order[index], x = data.xs[feature], y = data.ys[feature];
    moveMarker(x, y);
    fc1Value.textContent = `x = ${f4(x)}`;
    geluValue.textContent = `y = ${f4(y)}`;
    readout.replaceChildren(...elvit.tParts("{0} (feature {1}): fc1 gave x = {2}, the model's GELU gave y = {3}. " +
      "Exact formula: {4}; tanh approximation: {5}.", h("b", null, elvit.t("Point {0} of {1}", index + 1, M)), feature,
      h("b", null, f4(x)), h("b", null, f4(y)), f4(exact(x)), f4(approx(x))));
    view.setState({step: index, feature: feature, playing: playing});
  }

  let request = 0;
  async function choose(b, t) {
    const mine = ++request;
    status.textContent = "";
    view.setState({loading: true});
    let data;
    try {
      data = await tokenData(b, t);
    } catch (err) {
      if (mine === request) { status.textContent = elvit.t("Could not load block {0}, token {1}: {2}", b, t, err.message); view.setState({loading: false}); }
      return;
    }
    if (mine !== request) return;  // the reader has already picked something else
    current = {block: b, token: t, data: data};
    drawDots(data.xs, data.ys);
    number.set(t);
    if (t > 0) picture.box("frame", ((t - 1) % G) * P, Math.floor((t - 1) / G) * P, P, P);
    else picture.hideBox("frame");
    summary.replaceChildren(...elvit.tParts("{0}: {1} of its {2} inputs are negative (GELU squeezes them into [{3}, 0]), " +
      "{4} are positive or zero.", h("b", null, elvit.t("Block {0}, {1}", b, tokenWhere(t))), data.negative, M,
      f4(d.minimum.y), M - data.negative));
    view.setState({block: b, token: t, loading: false});
    player.go(Math.min(player.step, M - 1));
    setTimeout(() => prefetch(b, t), 300);
  }

  // ------------------------------------------------------------------ controls
  const player = elvit.player(view, {count: M, period: d.period, onStep: render});
  const number = elvit.numberBox({label: elvit.t("Token"), min: 0, max: T - 1, value: d.start.token,
    hint: elvit.t("0 is the CLS token, token p + 1 is patch p"), onChange: (t) => choose(current ? current.block : d.start.block, t)});
  const blockMenu = elvit.select({label: elvit.t("Block"), value: d.start.block,
    options: Array.from({length: d.blocks}, (_, b) => [b, elvit.t("block {0}", b)]),
    onChange: (value) => choose(Number(value), current ? current.token : d.start.token)});
  const clsButton = h("button", {type: "button", class: "elvit-button", onclick: () => choose(Number(blockMenu.select.value), 0)},
    elvit.t("CLS token"));
  picture.onCells((cell, how) => { if (how !== "hover") choose(Number(blockMenu.select.value), cell.row * G + cell.col + 1); });
  /* Hovering the chart moves the marker to the point whose input is nearest the pointer's x. */
  plot.el.addEventListener("pointermove", (event) => {
    if (!current) return;
    const x = plot.pointer(event)[0], xs = current.data.sortedX;
    let lo = 0, hi = M - 1;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (xs[mid] < x) lo = mid + 1; else hi = mid; }
    const nearest = lo > 0 && x - xs[lo - 1] < xs[lo] - x ? lo - 1 : lo;
    if (nearest !== player.step || player.playing) player.go(nearest);
  });

  view.root.append(
    h("div", {class: "elvit-controls"}, blockMenu.el, number.el, clsButton, player.el, status),
    h("div", {class: "elvit-row"}, h("div", {class: "elvit-column"}, chartBox, diffPlot.el), picture.el),
    legend, readout, flow, summary);
  return choose(d.start.block, d.start.token);
});
