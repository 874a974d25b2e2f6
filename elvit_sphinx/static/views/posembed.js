/* elvit-posembed: CLS + patch embeddings, plus position embeddings, and how similar one
 * position embedding is to all the others (views/posembed.py documents the directive).
 * State: {token, scale}. Token 0 is CLS, patch i is token i + 1. */
elvit.register("posembed", (view) => {
  const d = view.data, h = elvit.h, heat = elvit.heat;
  const G = d.grid, T = d.tokens, D = d.hidden;
  const withCls = elvit.decode(d.with_cls), position = elvit.decode(d.position);
  const viridis = elvit.decode(d.viridis), blues = elvit.decode(d.blues);
  const output = d.output ? elvit.decode(d.output) : add(withCls, position);
  const fmt = (v) => elvit.fmt(v, 4);
  const fmtCos = (v) => (Number.isFinite(v) ? elvit.fmt(v, 3) : elvit.t("undefined (a zero vector)"));

  /* A Float32Array stores the float32 rounding of the exact sum: the model's own addition.
   * (A plain loop: Float32Array.from with a map function was 10× slower in Chromium.) */
  function add(a, b) {
    const sum = new Float32Array(a.length);
    for (let i = 0; i < a.length; i++) sum[i] = a[i] + b[i];
    return sum;
  }

  const tokenName = (t) => elvit.tokenName(t, G);

  // ---- the addition: three T×D heatmaps -------------------------------------------------
  const matrixWidth = 210, matrixHeight = Math.round(Math.min(260, Math.max(130, 1.25 * T)));
  const hover = elvit.readout();
  function describeFeature(t, j) {
    const k = t * D + j, name = h("b", null, tokenName(t)), sum = h("b", null, fmt(output[k]));
    hover.replaceChildren(...(t === 0
      ? elvit.tParts("{0}, feature {1}: CLS {2} + position {3} = {4}", name, j, fmt(withCls[k]), fmt(position[k]), sum)
      : elvit.tParts("{0}, feature {1}: patch {2} + position {3} = {4}", name, j, fmt(withCls[k]), fmt(position[k]), sum)));
  }
  function matrix(values, title) {
    const picture = new elvit.Picture({cols: D, rows: T, width: matrixWidth, title: title, focusable: true,
      label: elvit.t("{0}; arrow keys move over tokens and features, Enter chooses the token", title)});
    heat.stretch(picture, matrixWidth, matrixHeight);
    picture.drawCodes(heat.codes(values, 0, T * D), 0, viridis);
    const [lo, hi] = heat.range(values, 0, T * D);
    const cursor = picture.onCells((cell, how) => {
      describeFeature(cell.row, cell.col);
      if (how !== "hover") choose(cell.row);
    });
    const el = h("div", {class: "elvit-column"}, picture.el,
                 h("span", {class: "elvit-range"}, elvit.t("colours: {0} … {1}", fmt(lo), fmt(hi))));
    return {picture: picture, cursor: cursor, el: el};
  }
  const matrices = [
    matrix(withCls, elvit.t("[CLS; patch embeddings]: {0}×{1}", T, D)),
    matrix(position, elvit.t("position embeddings: {0}×{1}", T, D)),
    matrix(output, elvit.t("sum, the input of block 0: {0}×{1}", T, D)),
  ];
  const sign = (text) => h("span", {class: "elvit-operator"}, text);

  // ---- the chosen token's three vectors, on one colour scale ------------------------------
  const stripWidth = D >= 420 ? D : D * Math.floor(420 / D);
  const stripCodes = new Uint8Array(D);
  const strips = ["", "", ""].map(() => {
    const picture = new elvit.Picture({cols: D, rows: 1, width: stripWidth, title: ""});
    heat.stretch(picture, stripWidth, 16);
    picture.onCells((cell) => describeFeature(chosen, cell.col));
    return picture;
  });
  const stripBar = elvit.colorbar(viridis, "", "", elvit.t("shared colours"));
  function drawStrips(t) {
    const sources = [withCls, position, output];
    let lo = Infinity, hi = -Infinity;
    for (const values of sources) {
      const [a, b] = heat.range(values, t * D, D);
      lo = Math.min(lo, a); hi = Math.max(hi, b);
    }
    sources.forEach((values, s) => strips[s].drawCodes(heat.codes(values, t * D, D, lo, hi, stripCodes), 0, viridis));
    strips[0].setTitle(t === 0 ? elvit.t("the CLS vector (learned)") : elvit.t("patch {0}'s embedding (chapter 1)", t - 1));
    strips[1].setTitle(elvit.t("+ the position embedding of token {0}", t));
    strips[2].setTitle(elvit.t("= what token {0} carries into block 0", t));
    stripBar.set(fmt(lo), fmt(hi));
  }

  // ---- cosine similarity of position embeddings -------------------------------------------
  const norms = new Float64Array(T), similarity = new Float64Array(T), simCodes = new Uint8Array(T);
  for (let t = 0; t < T; t++) {
    let s = 0;
    for (let j = t * D; j < (t + 1) * D; j++) s += position[j] * position[j];
    norms[t] = Math.sqrt(s);
  }
  function similarities(t) {
    for (let u = 0; u < T; u++) {
      let dot = 0;
      for (let j = 0, a = t * D, b = u * D; j < D; j++) dot += position[a + j] * position[b + j];
      const length = norms[t] * norms[u];
      similarity[u] = length > 0 ? dot / length : NaN;
    }
  }
  const picker = elvit.tokenPicker({grid: G, width: Math.min(280, 20 * G), start: d.start,
    title: elvit.t("Cosine similarity of the chosen position embedding to every position"),
    label: elvit.t("Similarity map over the patch grid: arrow keys move the chosen patch, Enter chooses it"),
    onPick: (t) => choose(t),
    onHover: (u) => hover.replaceChildren(...elvit.tParts("cos(position embedding of {0}, of {1}) = {2}",
      tokenName(chosen), tokenName(u), h("b", null, fmtCos(similarity[u]))))});
  const simBar = elvit.colorbar(blues, "", "", elvit.t("cosine similarity"));
  const scaleMenu = elvit.select({label: elvit.t("Colours"), value: "fixed",
    options: [["fixed", elvit.t("−1 to 1")], ["own", elvit.t("this map’s range")]],
    onChange: (value) => { scale = value; choose(chosen); }});
  const summary = elvit.readout();
  const note = h("p", {class: "elvit-note"}, d.trained
    ? elvit.t("In a trained ViT a patch's position embedding is most similar to those of nearby patches " +
              "and of its own row and column: look for a cross.")
    : elvit.t("This model is untrained: its position embeddings are random vectors, so the map has no " +
              "structure. Only the chosen position itself is similar (1); the others scatter randomly " +
              "around 0. A trained ViT lights up nearby patches and the patch's own row and column."));

  function drawSimilarity(t) {
    similarities(t);
    let lo = -1, hi = 1;
    if (scale === "own") {
      lo = Infinity; hi = -Infinity;
      for (let u = 0; u < T; u++) if (u !== t) { lo = Math.min(lo, similarity[u]); hi = Math.max(hi, similarity[u]); }
    }
    picker.draw(heat.codes(similarity, 0, T, lo, hi, simCodes), blues);
    simBar.set(elvit.fmt(lo, 3), elvit.fmt(hi, 3));
    let best = -1, worst = -1, absolute = 0;
    for (let u = 0; u < T; u++) {
      if (u === t) continue;
      if (best < 0 || similarity[u] > similarity[best]) best = u;
      if (worst < 0 || similarity[u] < similarity[worst]) worst = u;
      absolute += Math.abs(similarity[u]);
    }
    summary.replaceChildren(...elvit.tParts("{0}. Compared with the other {1} positions, its position embedding " +
      "is most similar to {2} ({3}) and least similar to {4} ({5}); mean |cos| {6}.", h("b", null, tokenName(t)), T - 1,
      tokenName(best), fmtCos(similarity[best]), tokenName(worst), fmtCos(similarity[worst]),
      elvit.fmt(absolute / (T - 1), 3)));
  }

  let chosen = d.start, scale = "fixed";
  function choose(t) {
    chosen = t;
    picker.mark(t);
    drawSimilarity(t);
    drawStrips(t);
    matrices.forEach((m) => { m.picture.box("row", 0, t, D, 1); m.cursor.moveCursor({col: 0, row: t}); });
    view.setState({token: t, scale: scale});
  }
  choose(d.start);
  hover.replaceChildren(elvit.t("Hover a heatmap, a strip or the similarity map to read its numbers."));

  view.root.append(
    h("div", {class: "elvit-controls"}, picker.numberBox.el, scaleMenu.el),
    h("div", {class: "elvit-row elvit-equation"}, matrices[0].el, sign("+"), matrices[1].el, sign("="), matrices[2].el),
    hover,
    h("div", {class: "elvit-row"},
      h("div", {class: "elvit-column"}, picker.el, simBar.el),
      h("div", {class: "elvit-column"}, ...strips.map((s) => s.el), stripBar.el)),
    summary, note);
});
