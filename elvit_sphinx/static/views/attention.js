/* elvit-attention: one head's self-attention, computed row by row (views/attention.py documents
 * the directive). The page holds one head's Q, K, V and one layer's context/output colours;
 * other heads and layers are chunks. Scores and softmax weights are computed here, in float64,
 * from Q and K. Player steps: 2·row (the row's scores) and 2·row + 1 (its softmax).
 * State: {layer, head, row, phase, playing, hover, loading}. */
elvit.register("attention", (view) => {
  const d = view.data, h = elvit.h;
  const T = d.tokens, G = d.grid, N = G * G, DH = d.head_dim, D = d.hidden, S = d.size, P = d.patch;
  const image = elvit.decode(d.image), palette = elvit.decode(d.palette);
  const f3 = (v) => elvit.fmt(v, 3), f4 = (v) => elvit.fmt(v, 4);
  const TOP = 5, MATRIX = 256;

  // ------------------------------------------------------------------ arithmetic
  /* Round half to even, as NumPy's rint: colours equal heatmap.codes in Python for the same values. */
  function rint(x) {
    const r = Math.round(x);
    return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  }

  /* Min-max normalised palette indices of a whole map (views/heatmap.codes). */
  function codes(values) {
    let lo = Infinity, hi = -Infinity;
    for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
    const out = new Uint8Array(values.length), span = hi - lo;
    if (span > 0) for (let i = 0; i < values.length; i++) out[i] = rint((values[i] - lo) / span * 255);
    return out;
  }

  /* q_i · k_j in float64. Four running sums instead of one let the CPU overlap the additions
   * (measured 2-3× faster for d = 64); the tail loop handles d not divisible by 4. */
  function dot(q, a, k, b) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, c = 0;
    for (; c + 3 < DH; c += 4) {
      s0 += q[a + c] * k[b + c]; s1 += q[a + c + 1] * k[b + c + 1];
      s2 += q[a + c + 2] * k[b + c + 2]; s3 += q[a + c + 3] * k[b + c + 3];
    }
    for (; c < DH; c++) s0 += q[a + c] * k[b + c];
    return (s0 + s1) + (s2 + s3);
  }

  /* Scores q_i·k_j/√d and the softmax of every row, in float64, from the trace's Q and K. */
  function analyseHead(payload) {
    const q = elvit.decode(payload.q), k = elvit.decode(payload.k), v = elvit.decode(payload.v);
    const q64 = Float64Array.from(q), k64 = Float64Array.from(k);
    const scores = new Float64Array(T * T), weights = new Float64Array(T * T);
    const scale = 1 / Math.sqrt(DH);
    for (let i = 0; i < T; i++) {
      let max = -Infinity;
      for (let j = 0; j < T; j++) {
        const s = dot(q64, i * DH, k64, j * DH) * scale;
        scores[i * T + j] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let j = 0; j < T; j++) sum += (weights[i * T + j] = Math.exp(scores[i * T + j] - max));
      for (let j = 0; j < T; j++) weights[i * T + j] /= sum;
    }
    return {q: q, k: k, v: v, scores: scores, weights: weights,
            qCodes: codes(q), kCodes: codes(k), vCodes: codes(v),
            scoreCodes: codes(scores), weightCodes: codes(weights)};
  }

  function analyseLayer(payload) {
    return {contextCodes: elvit.decode(payload.context_codes), contextStats: elvit.decode(payload.context_stats),
            outputCodes: elvit.decode(payload.output_codes), outputStats: elvit.decode(payload.output_stats)};
  }

  // ------------------------------------------------------------------ data on demand
  const headCache = new Map(), layerCache = new Map();
  const headName = (l, hh) => `head-${l}-${hh}`, layerName = (l) => `layer-${l}`;
  headCache.set(headName(d.start.layer, d.start.head), Promise.resolve(d.head_data));
  layerCache.set(layerName(d.start.layer), Promise.resolve(d.layer_data));
  const analysed = new Map();

  function load(cache, name) {
    if (!cache.has(name)) cache.set(name, view.chunk(name));
    return cache.get(name);
  }

  async function headData(l, hh) {
    const name = headName(l, hh), payload = await load(headCache, name);
    if (!analysed.has(name)) analysed.set(name, analyseHead(payload));
    return analysed.get(name);
  }

  async function layerData(l) {
    const name = layerName(l), payload = await load(layerCache, name);
    if (!analysed.has(name)) analysed.set(name, analyseLayer(payload));
    return analysed.get(name);
  }

  /* Neighbouring heads and the next layer arrive, and their scores are computed, while the
   * reader looks at this one: picking one of them then only draws. */
  const whenIdle = window.requestIdleCallback || ((work) => setTimeout(work, 50));
  function prefetch(l, hh) {
    const ignore = () => {};
    const ahead = (ll, hhh) => load(headCache, headName(ll, hhh)).then(() => whenIdle(() => headData(ll, hhh).catch(ignore)), ignore);
    if (hh + 1 < d.heads) ahead(l, hh + 1);
    if (l + 1 < d.layers) {
      ahead(l + 1, hh);
      load(layerCache, layerName(l + 1)).catch(ignore);
    }
  }

  // ------------------------------------------------------------------ pictures
  const tall = (cols) => Math.max(24, Math.round(MATRIX * cols / T));
  const qPic = new elvit.Picture({cols: DH, rows: T, width: tall(DH), title: "Q", className: "elvit-attention-q"});
  const kPic = new elvit.Picture({cols: DH, rows: T, width: tall(DH), title: "K", className: "elvit-attention-k"});
  const matrix = (title, className) => new elvit.Picture({cols: T, rows: T, width: MATRIX, title: title, focusable: true, className: className,
    label: elvit.t("{0}: {1} by {1}; hover or use the arrow keys to read an entry, click or Enter to make its row current",
                   title, T)});
  const scorePic = matrix(elvit.t("Scores QKᵀ/√{0}", DH), "elvit-attention-scores");
  const weightPic = matrix(elvit.t("Weights: softmax of each row"), "elvit-attention-weights");
  const over = new elvit.Picture({cols: S, rows: S, width: MATRIX, pick: {cols: G, rows: G}, focusable: true, className: "elvit-attention-image",
    title: "", label: elvit.t("The image's patch grid; click a patch, or use the arrow keys and Enter, to make its token the current row")});
  over.drawRGB(image);
  const overCanvas = h("canvas", {width: G, height: G, class: "elvit-attention-overlay"});
  over.overlay.prepend(overCanvas);
  const overContext = overCanvas.getContext("2d"), overImage = overContext.createImageData(G, G);
  const clsPic = new elvit.Picture({cols: G, rows: G, width: 180, title: elvit.t("CLS row: the attention map"), className: "elvit-attention-cls"});
  const vPic = new elvit.Picture({cols: DH, rows: T, width: tall(DH), title: "V", className: "elvit-attention-v"});
  const band = Math.min(320, Math.round(MATRIX * D / T));
  const contextPic = new elvit.Picture({cols: D, rows: T, width: band, title: elvit.t("Context, heads concatenated: {0}×{1}", T, D), className: "elvit-attention-context"});
  const outputPic = new elvit.Picture({cols: D, rows: T, width: band, title: elvit.t("Output projection: {0}×{1}", T, D), className: "elvit-attention-output"});
  const scoreBar = elvit.colorbar(palette, "", "", elvit.t("scores")), weightBar = elvit.colorbar(palette, "", "", elvit.t("weights"));
  const overBar = elvit.colorbar(palette, "", "", elvit.t("weight")), clsBar = elvit.colorbar(palette, "", "", elvit.t("weight"));
  const rowText = elvit.readout("elvit-readout-tall elvit-attention-row-text");
  const hoverText = elvit.readout("elvit-attention-hover-text"), overText = elvit.readout("elvit-attention-token-text");
  const contextText = elvit.readout("elvit-readout-tall elvit-attention-context-text");
  const status = h("span", {class: "elvit-message", role: "status"});

  const tokenName = (t) => (t === 0 ? elvit.t("CLS") : elvit.t("patch {0}", t - 1));
  const tokenWhere = (t) => (t === 0 ? elvit.t("the CLS token") :
    elvit.t("token {0} = patch {1} (row {2}, col {3})", t, t - 1, Math.floor((t - 1) / G), (t - 1) % G));

  // ------------------------------------------------------------------ drawing
  let current = null;  // {layer, head, hd (analysed head), ld (analysed layer)}
  let shownRow = -1;

  function minMax(values, from, to) {
    let lo = Infinity, hi = -Infinity;
    for (let i = from; i < to; i++) { if (values[i] < lo) lo = values[i]; if (values[i] > hi) hi = values[i]; }
    return [lo, hi];
  }

  /* Row `row`'s weights to the N patches (not the CLS key) as colours in a G×G ImageData, min-max. */
  function drawGridRow(imageData, weights, row) {
    const out = imageData.data, base = row * T + 1;
    const [lo, hi] = minMax(weights, base, base + N), span = hi - lo;
    for (let p = 0; p < N; p++) {
      const c = 3 * (span > 0 ? rint((weights[base + p] - lo) / span * 255) : 0);
      out[4 * p] = palette[c]; out[4 * p + 1] = palette[c + 1]; out[4 * p + 2] = palette[c + 2]; out[4 * p + 3] = 255;
    }
    return [lo, hi];
  }

  function drawHead() {
    const hd = current.hd;
    qPic.drawCodes(hd.qCodes, 0, palette); kPic.drawCodes(hd.kCodes, 0, palette); vPic.drawCodes(hd.vCodes, 0, palette);
    qPic.setTitle(`Q: ${T}×${DH}`); kPic.setTitle(`K: ${T}×${DH}`); vPic.setTitle(`V: ${T}×${DH}`);
    scorePic.drawCodes(hd.scoreCodes, 0, palette);
    weightPic.drawCodes(hd.weightCodes, 0, palette);
    const [slo, shi] = minMax(hd.scores, 0, T * T), [wlo, whi] = minMax(hd.weights, 0, T * T);
    scoreBar.set(f3(slo), f3(shi)); weightBar.set(f4(wlo), f4(whi));
    const [clo, chi] = drawGridRow(clsPic.image, hd.weights, 0);
    clsPic.context.putImageData(clsPic.image, 0, 0);
    clsBar.set(f4(clo), f4(chi));
    contextPic.box("band", current.head * DH, 0, DH, T, "elvit-box-soft");
  }

  function drawLayer() {
    contextPic.drawCodes(current.ld.contextCodes, 0, palette);
    outputPic.drawCodes(current.ld.outputCodes, 0, palette);
  }

  /* Rows not computed yet are faded by a sheet the size of the whole matrix, slid down with a
   * transform: the compositor moves it without repainting the matrix under it (a resized box
   * cost ~12 ms of paint per step on a 2-core machine). */
  function makeVeil(picture) {
    const sheet = h("div", {class: "elvit-veil"});
    picture.overlay.style.overflow = "hidden";
    picture.overlay.prepend(sheet);
    return sheet;
  }
  const veils = new Map([[scorePic, makeVeil(scorePic)], [weightPic, makeVeil(weightPic)]]);
  function veil(picture, fromRow) {
    veils.get(picture).style.transform = `translateY(${100 * fromRow / T}%)`;
  }

  function topTokens(values, base) {
    const order = Array.from({length: T}, (_, j) => j);
    order.sort((a, b) => values[base + b] - values[base + a]);
    return order.slice(0, TOP);
  }

  function describeRow(row, phase) {
    const hd = current.hd, base = row * T, top = topTokens(hd.scores, base);
    const who = h("b", null, elvit.t("Row {0}", row));
    if (phase === 0) {
      rowText.replaceChildren(...elvit.tParts("{0} (query: {1}): scores s = q·k/√{2} with all {3} keys. Largest: {4}; " +
        "CLS key {5}. Next step: the softmax of this row.", who, tokenWhere(row), DH, T,
        top.map((j) => `${tokenName(j)}: ${f3(hd.scores[base + j])}`).join(", "), f3(hd.scores[base])));
    } else {
      let sum = 0;
      for (let j = 0; j < T; j++) sum += hd.weights[base + j];
      rowText.replaceChildren(...elvit.tParts("{0} (query: {1}): weights w = softmax of the row, e^(s − max)/Σ. " +
        "Largest: {2}; CLS {3}; sum of the row {4} (uniform would be 1/{5} = {6}).", who, tokenWhere(row),
        top.map((j) => `${tokenName(j)}: ${f4(hd.weights[base + j])}`).join(", "), f4(hd.weights[base]),
        h("b", null, f4(sum)), T, f4(1 / T)));
    }
  }

  function describeToken(row) {
    const hd = current.hd, ld = current.ld;
    if (row !== shownRow) {
      const [lo, hi] = drawGridRow(overImage, hd.weights, row);
      overContext.putImageData(overImage, 0, 0);
      overBar.set(f4(lo), f4(hi));
      if (row > 0) over.box("frame", ((row - 1) % G) * P, Math.floor((row - 1) / G) * P, P, P);
      else over.hideBox("frame");
      over.setTitle(row === 0 ? elvit.t("Where the CLS token looks (its row over the {0}×{0} patches)", G)
                              : elvit.t("Where token {0} looks (its row over the {1}×{1} patches)", row, G));
      shownRow = row;
    }
    const toCls = h("b", null, f4(hd.weights[row * T]));
    overText.replaceChildren(...(row === 0
      ? elvit.tParts("The CLS token gives the CLS token, which has no patch, weight {0}.", toCls)
      : elvit.tParts("Token {0} = patch {1} (row {2}, col {3}) gives the CLS token, which has no patch, weight {4}.",
                     row, row - 1, Math.floor((row - 1) / G), (row - 1) % G, toCls)));
    const context = [];
    for (let c = 0; c < DH; c++) {
      let s = 0;
      for (let j = 0; j < T; j++) s += hd.weights[row * T + j] * hd.v[j * DH + c];
      context.push(s);
    }
    const cs = ld.contextStats, os = ld.outputStats;
    contextText.replaceChildren(...elvit.tParts("{0}, head {1}: context = Σ_j w_{2}j v_j = ({3}, …), columns {4}–{5} of " +
      "the context. With all {6} heads: min {7}, max {8}. After the output projection: min {9}, max {10}, mean {11}.",
      h("b", null, elvit.t("Token {0}", row)), current.head, row, context.slice(0, 4).map(f4).join(", "),
      current.head * DH, (current.head + 1) * DH - 1, d.heads, f3(cs[3 * row]), f3(cs[3 * row + 1]),
      f3(os[3 * row]), f3(os[3 * row + 1]), f3(os[3 * row + 2])));
    for (const picture of [contextPic, outputPic]) picture.box("row", 0, row, D, 1);
  }

  function render(step, playing) {
    if (!current) return;
    const row = step >> 1, phase = step & 1;
    veil(scorePic, row + 1);
    veil(weightPic, phase ? row + 1 : row);
    for (const picture of [qPic, scorePic, weightPic]) picture.box("row", 0, row, picture.cols, 1);
    describeRow(row, phase);
    describeToken(row);
    number.set(row);
    cursors.forEach((cursor) => cursor.moveCursor({col: 0, row: row}));
    overCursor.moveCursor(row > 0 ? {col: (row - 1) % G, row: Math.floor((row - 1) / G)} : {col: 0, row: 0});
    view.setState({row: row, phase: phase ? "softmax" : "scores", playing: playing});
  }

  function hover(cell) {
    const hd = current.hd, i = cell.row, j = cell.col, at = i * T + j;
    for (const picture of [scorePic, weightPic]) picture.box("hover", j, i, 1, 1, "elvit-box-soft");
    hoverText.replaceChildren(...elvit.tParts("Query {0}, key {1}: score {2}, weight {3}.",
      h("b", null, elvit.t("token {0} ({1})", i, tokenName(i))), h("b", null, elvit.t("token {0} ({1})", j, tokenName(j))),
      f3(hd.scores[at]), f4(hd.weights[at])));
    view.setState({hover: [i, j]});
  }

  let request = 0;
  async function choose(l, hh) {
    const mine = ++request;
    status.textContent = "";
    view.setState({loading: true});
    let hd, ld;
    try {
      [hd, ld] = await Promise.all([headData(l, hh), layerData(l)]);
    } catch (err) {
      if (mine === request) { status.textContent = elvit.t("Could not load layer {0}, head {1}: {2}", l, hh, err.message); view.setState({loading: false}); }
      return;
    }
    if (mine !== request) return;  // the reader has already picked something else
    const layerChanged = !current || current.layer !== l;
    current = {layer: l, head: hh, hd: hd, ld: ld};
    shownRow = -1;
    drawHead();
    if (layerChanged) drawLayer();
    scorePic.hideBox("hover"); weightPic.hideBox("hover");
    hoverText.replaceChildren(elvit.t("Hover either matrix to read one entry."));
    view.setState({layer: l, head: hh, hover: null, loading: false});
    render(player.step, player.playing);
    setTimeout(() => prefetch(l, hh), 400);
  }

  // ------------------------------------------------------------------ controls
  const player = elvit.player(view, {count: 2 * T, period: d.period, start: 2 * d.start.token + 1, onStep: render});
  const number = elvit.numberBox({label: elvit.t("Token"), min: 0, max: T - 1, value: d.start.token,
    hint: elvit.t("0 is the CLS token, token p + 1 is patch p"), onChange: (t) => player.go(2 * t + 1)});
  const layerMenu = elvit.select({label: elvit.t("Layer"), value: d.start.layer,
    options: Array.from({length: d.layers}, (_, l) => [l, elvit.t("block {0}", l)]),
    onChange: (value) => choose(Number(value), Number(headMenu.select.value))});
  const headMenu = elvit.select({label: elvit.t("Head"), value: d.start.head,
    options: Array.from({length: d.heads}, (_, hh) => [hh, elvit.t("head {0}", hh)]),
    onChange: (value) => choose(Number(layerMenu.select.value), Number(value))});
  const onMatrix = (cell, how) => {
    if (!current) return;
    hover(cell);
    if (how === "click") player.go(2 * cell.row + 1);
  };
  const cursors = [scorePic.onCells(onMatrix), weightPic.onCells(onMatrix)];
  const overCursor = over.onCells((cell, how) => { if (how !== "hover") player.go(2 * (cell.row * G + cell.col + 1) + 1); });

  view.root.append(
    h("div", {class: "elvit-controls"}, layerMenu.el, headMenu.el, player.el, number.el, status),
    h("div", {class: "elvit-row"}, qPic.el, kPic.el, h("div", {class: "elvit-column"}, scorePic.el, scoreBar.el),
      h("div", {class: "elvit-column"}, weightPic.el, weightBar.el)),
    rowText, hoverText,
    h("div", {class: "elvit-row"}, h("div", {class: "elvit-column"}, over.el, overBar.el),
      h("div", {class: "elvit-column"}, clsPic.el, clsBar.el)),
    overText,
    h("div", {class: "elvit-row"}, vPic.el, contextPic.el, outputPic.el),
    contextText);
  view.setState({row: d.start.token, phase: "softmax", playing: false});
  return choose(d.start.layer, d.start.head);
});
