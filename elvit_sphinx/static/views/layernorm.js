/* elvit-layernorm: one token through one LayerNorm, with a frame stepping over its features
 * (views/layernorm.py documents the directive). State: {block, norm, token, feature, playing,
 * ready}; ready is false while a LayerNorm's numbers are loading. */
elvit.register("layernorm", (view) => {
  const d = view.data, h = elvit.h, heat = elvit.heat;
  const G = d.grid, T = d.tokens, D = d.hidden, L = d.layers, R = d.rows, C = d.cols;
  const stats = elvit.decode(d.stats), viridis = elvit.decode(d.viridis);
  const fmt = (v) => elvit.fmt(v, 4);
  // μ, σ² and σ can be tiny (a CLS vector) or large (a late block): 4 significant digits.
  const sig = (v) => v.toPrecision(4).replace("-", "\u2212");
  const normIndex = (block, norm) => (norm === "final" ? 2 * L : 2 * block + (norm === "after" ? 1 : 0));

  const tokenName = (t) => elvit.tokenName(t, G);

  // ---- what is shown: one LayerNorm (numbers of all tokens, once loaded) and one token ----
  const loaded = Object.create(null);  // chunk name -> Promise of {x, y (packed), gamma, beta}
  const first = {x: elvit.decode(d.first.x), y: elvit.decode(d.first.y),
                 gamma: elvit.decode(d.first.gamma), beta: elvit.decode(d.first.beta)};
  let block = d.start.block, norm = d.start.norm, token = d.start.token, request = 0, ready = true;
  const now = {x: first.x, y: first.y, gamma: first.gamma, beta: first.beta,
               xhat: new Float64Array(D), mean: 0, variance: 0, root: 1};
  const info = () => d.norms[normIndex(block, norm)];

  function load(name) {
    if (!loaded[name]) {
      // x and y stay packed: only the chosen token's row is ever decoded.
      loaded[name] = view.chunk(name).then((payload) => ({
        x: payload.x, y: payload.y, gamma: elvit.decode(payload.gamma), beta: elvit.decode(payload.beta)}));
    }
    return loaded[name];
  }

  /* The token's statistics and normalised features, in float64 from its float32 inputs. */
  function normalise() {
    let mean = 0, variance = 0;
    for (let j = 0; j < D; j++) mean += now.x[j];
    mean /= D;
    for (let j = 0; j < D; j++) variance += (now.x[j] - mean) * (now.x[j] - mean);
    variance /= D;  // biased: divided by D, not D − 1, as in the model
    now.mean = mean; now.variance = variance; now.root = Math.sqrt(variance + d.eps);
    for (let j = 0; j < D; j++) now.xhat[j] = (now.x[j] - mean) / now.root;
  }

  // ---- the five feature grids ---------------------------------------------------------------
  const gridWidth = 140, codes = new Uint8Array(D);
  const hover = elvit.readout();
  function describe(j) {
    hover.replaceChildren(...elvit.tParts("{0}: x = {1}, x̂ = {2}, γ = {3}, β = {4}, y = {5}",
      h("b", null, elvit.t("feature {0}", j)), fmt(now.x[j]), fmt(now.xhat[j]), fmt(now.gamma[j]), fmt(now.beta[j]),
      fmt(now.y[j])));
  }
  const grids = [["x", elvit.t("x: the input")], ["xhat", "x̂ = (x − μ) / √(σ² + ε)"], ["gamma", elvit.t("γ (learned scale)")],
                 ["beta", elvit.t("β (learned shift)")], ["y", elvit.t("y = γ x̂ + β: the output")]].map(([key, title], k) => {
    const picture = new elvit.Picture({cols: C, rows: R, width: gridWidth, title: title, focusable: k === 0,
      label: k === 0 ? elvit.t("Input features: arrow keys move the frame, Enter keeps it there") : undefined});
    const range = h("span", {class: "elvit-range"});
    const cursor = picture.onCells((cell, how) => {
      const j = cell.row * C + cell.col;
      if (j >= D) return;
      describe(j);
      if (how !== "hover") player.go(j);
    });
    return {key: key, picture: picture, range: range, cursor: cursor,
            el: h("div", {class: "elvit-column elvit-feature-grid"}, picture.el, range)};
  });
  function drawGrids() {
    for (const g of grids) {
      const values = now[g.key];
      const [lo, hi] = heat.range(values, 0, D);
      g.picture.drawCodes(heat.codes(values, 0, D, lo, hi, codes), 0, viridis);
      g.range.textContent = lo === hi ? elvit.t("all {0}", fmt(lo)) : elvit.t("colours: {0} … {1}", fmt(lo), fmt(hi));
    }
  }

  // ---- the neighbourhood of the framed feature, with its numbers -----------------------------
  const WIDTH = Math.min(7, D);
  const ROWS = [[elvit.t("feature"), (j) => String(j)], ["x", (j) => fmt(now.x[j])], ["x − μ", (j) => fmt(now.x[j] - now.mean)],
                ["x̂", (j) => fmt(now.xhat[j])], ["γ", (j) => fmt(now.gamma[j])], ["β", (j) => fmt(now.beta[j])],
                ["y", (j) => fmt(now.y[j])]];
  const cells = ROWS.map(() => Array.from({length: WIDTH}, () => h("td")));
  const table = h("table", {class: "elvit-zoom"}, h("tbody", null, ROWS.map(([name], r) => h("tr", null, h("th", null, name), cells[r]))));
  function drawTable(j) {
    const from = Math.min(Math.max(0, j - (WIDTH >> 1)), D - WIDTH);
    for (let c = 0; c < WIDTH; c++) {
      const k = from + c;
      ROWS.forEach(([, text], r) => {
        cells[r][c].textContent = text(k);
        cells[r][c].className = k === j ? "elvit-current" : "";
      });
    }
  }

  // ---- the token map: every token's spread σ at this LayerNorm's input -----------------------
  const spread = new Float64Array(T);
  const picker = elvit.tokenPicker({grid: G, width: Math.min(220, 16 * G), start: token,
    title: elvit.t("Spread σ of each token's features here"), onPick: (t) => chooseToken(t),
    label: elvit.t("Token map: arrow keys move the chosen patch, Enter chooses it"),
    onHover: (t) => {
      const s = 2 * (normIndex(block, norm) * T + t);
      hover.replaceChildren(...elvit.tParts("{0}: μ = {1}, σ² = {2}, σ = {3}", h("b", null, tokenName(t)),
        sig(stats[s]), sig(stats[s + 1]), sig(Math.sqrt(stats[s + 1]))));
    }});
  const spreadBar = elvit.colorbar(viridis, "", "", "σ");
  function drawTokenMap() {
    const base = 2 * normIndex(block, norm) * T;
    for (let t = 0; t < T; t++) spread[t] = Math.sqrt(stats[base + 2 * t + 1]);
    const [lo, hi] = heat.range(spread, 0, T);
    picker.draw(heat.codes(spread, 0, T, lo, hi), viridis);
    spreadBar.set(sig(lo), sig(hi));
  }

  // ---- formula ----------------------------------------------------------------------------------
  const where = elvit.readout();
  const moments = elvit.readout("elvit-mono");
  const formula = elvit.readout("elvit-mono");
  function drawFormula(j) {
    if (!ready) return;
    const x = now.x[j], g = now.gamma[j], b = now.beta[j];
    formula.replaceChildren(h("b", null, elvit.t("feature {0}:", j)),
      ` x̂ = (x − μ) / √(σ² + ε) = (${fmt(x)} ${now.mean < 0 ? "+" : "−"} ${sig(Math.abs(now.mean))}) / ${sig(now.root)} = ${fmt(now.xhat[j])}`, h("br"),
      `y = x̂ × γ + β = ${fmt(now.xhat[j])} × ${fmt(g)} ${b < 0 ? "−" : "+"} ${fmt(Math.abs(b))} = `,
      h("b", null, fmt(now.y[j])));
  }
  /* Which LayerNorm this is and its tensors: one whole sentence for each of the three places. */
  function place(name, n) {
    if (norm === "final") {
      return elvit.tParts("{0} at the LayerNorm after the last block · input {1}, output {2}", name, n.x, n.y);
    }
    if (norm === "after") {
      return elvit.tParts("{0} at the LayerNorm before the MLP of block {1} · input {2}, output {3}", name, block, n.x, n.y);
    }
    return elvit.tParts("{0} at the LayerNorm before the attention of block {1} · input {2}, output {3}",
                        name, block, n.x, n.y);
  }
  function drawToken() {
    normalise();
    const n = info();
    where.replaceChildren(...place(h("b", null, tokenName(token)), n));
    moments.replaceChildren(`μ = (1/${D}) Σ x = ${sig(now.mean)} · σ² = (1/${D}) Σ (x − μ)² = ${sig(now.variance)} · ` +
      `√(σ² + ε) = ${sig(now.root)} (ε = ${d.eps})`);
    drawGrids();
    render(player.step, player.playing);
  }

  function render(j, playing) {
    grids.forEach((g) => { g.picture.box("frame", j % C, Math.floor(j / C)); g.cursor.moveCursor({col: j % C, row: Math.floor(j / C)}); });
    drawTable(j);
    drawFormula(j);
    featureBox.set(j);
    view.setState({block: block, norm: norm, token: token, feature: j, playing: playing, ready: ready});
  }

  /* Show the current (block, norm, token) once its numbers are there. */
  function show() {
    const mine = ++request, name = info().chunk;
    ready = false;
    formula.replaceChildren(elvit.t("Loading the numbers of this LayerNorm…"));
    view.setState({block: block, norm: norm, token: token, ready: false});
    load(name).then((all) => {
      if (mine !== request) return;  // the reader has moved on
      now.x = heat.decodeRow(all.x, token);
      now.y = heat.decodeRow(all.y, token);
      now.gamma = all.gamma; now.beta = all.beta;
      ready = true;
      drawToken();
    }, (err) => { if (mine === request) view.fail(String(err)); });
  }
  function chooseToken(t) { token = t; picker.mark(t); show(); }
  function chooseNorm() {
    blockMenu.select.disabled = norm === "final";
    drawTokenMap();
    show();
  }

  const player = elvit.player(view, {count: D, period: d.period, start: d.start.feature, onStep: render});
  const featureBox = elvit.numberBox({label: elvit.t("Feature"), min: 0, max: D - 1, value: d.start.feature,
    onChange: (j) => player.go(j)});
  const blockMenu = elvit.select({label: elvit.t("Block"), value: block,
    options: Array.from({length: L}, (_, i) => [i, elvit.t("block {0}", i)]),
    onChange: (value) => { block = Number(value); chooseNorm(); }});
  const normMenu = elvit.select({label: elvit.t("LayerNorm"), value: norm,
    options: [["before", elvit.t("before the attention")], ["after", elvit.t("before the MLP")],
              ["final", elvit.t("final (after the last block)")]],
    onChange: (value) => { norm = value; if (norm === "final") block = L - 1; blockMenu.select.value = block; chooseNorm(); }});

  blockMenu.select.disabled = norm === "final";
  picker.mark(token);
  drawTokenMap();
  drawToken();  // from the numbers in the page
  hover.replaceChildren(elvit.t("Hover a grid cell or the token map to read its numbers."));
  load(info().chunk);  // the other tokens of this LayerNorm, fetched while the reader reads

  view.root.append(
    h("div", {class: "elvit-controls"}, blockMenu.el, normMenu.el, picker.numberBox.el),
    h("div", {class: "elvit-controls"}, player.el, featureBox.el),
    h("div", {class: "elvit-row"},
      h("div", {class: "elvit-column"}, picker.el, spreadBar.el),
      h("div", {class: "elvit-column elvit-layernorm-numbers"}, where, moments, formula, table)),
    h("div", {class: "elvit-row"}, grids.map((g) => g.el)),
    hover);
});
