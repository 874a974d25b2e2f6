/* elvit-residual: the length of a token's vector through the residual stream (views/residual.py).
 * State: {token, block}. Token 0 is CLS; token i + 1 is patch i. */
elvit.register("residual", (view) => {
  const d = view.data, h = elvit.h, L = d.layers, T = d.tokens, G = d.grid, S = 2 * L + 1;
  const norms = elvit.decode(d.norms), attention = elvit.decode(d.attention_norms);
  const mlp = elvit.decode(d.mlp_norms), cosines = elvit.decode(d.cosines);
  const fmt = (v) => elvit.fmt(v, 3);
  const stages = Array.from({length: S}, (_, s) => s);
  const tokenNorms = (t) => stages.map((s) => norms[s * T + t]);

  // Median and range over the patch tokens (1…T-1) at each stage, once.
  const median = [], low = [], high = [];
  for (let s = 0; s < S; s++) {
    const row = Array.from(norms.subarray(s * T + 1, (s + 1) * T)).sort((a, b) => a - b);
    median.push(row[Math.floor(row.length / 2)]);
    low.push(row[0]);
    high.push(row[row.length - 1]);
  }
  const top = Math.max(...high, ...tokenNorms(0));
  const plot = elvit.charts.plot({width: 560, height: 300, xDomain: [0, S - 1], yDomain: [0, top * 1.05],
    xLabel: elvit.t("stage (after embeddings, then after each block's attention and MLP)"),
    yLabel: elvit.t("length ‖x‖"),
    xTickValues: stages.filter((s) => s % 2 === 0), xTickFormat: (s) => (s === 0 ? elvit.t("emb") : `${s / 2 - 1}`)});
  plot.area(stages, low, high);
  const band = plot.vband(2 * d.start_block, 2 * d.start_block + 2);
  plot.line(stages, median, "elvit-line-2");
  plot.line(stages, tokenNorms(0), "elvit-line-cls");
  const chosen = plot.line(stages, tokenNorms(d.start_token), "elvit-line");
  const legend = h("div", {class: "elvit-legend"},
    h("span", null, h("span", {class: "elvit-legend-swatch", style: {borderColor: "var(--elvit-bar-top)"}}), elvit.t("CLS token")),
    h("span", null, h("span", {class: "elvit-legend-swatch", style: {borderColor: "var(--elvit-accent-2)"}}), elvit.t("chosen token")),
    h("span", null, h("span", {class: "elvit-legend-swatch", style: {borderColor: "var(--elvit-muted)", borderTopStyle: "dashed"}}),
      elvit.t("median of the patch tokens (shaded: smallest to largest)")));

  const picker = new elvit.Picture({cols: d.size, rows: d.size, width: 168, pick: {cols: G, rows: G},
    title: elvit.t("Click a patch to follow its token"), focusable: true,
    label: elvit.t("Image cut into patches; arrow keys choose a patch, Enter follows it")});
  picker.drawRGB(elvit.decode(d.image));
  picker.gridLines();
  const sums = h("div", {class: "elvit-readout elvit-mono", style: {minHeight: "7.5em"}});
  let token = d.start_token, block = d.start_block;

  function show() {
    chosen.set(stages, tokenNorms(token));
    band.set(2 * block, 2 * block + 2);
    if (token > 0) {
      const p = token - 1, P = d.size / G;
      picker.box("frame", (p % G) * P, Math.floor(p / G) * P, P, P);
    } else {
      picker.hideBox("frame");
    }
    const i = block, t = token, name = t === 0 ? elvit.t("CLS") : elvit.t("token {0} (patch {1})", t, t - 1);
    const input = norms[2 * i * T + t], mid = norms[(2 * i + 1) * T + t], out = norms[(2 * i + 2) * T + t];
    sums.replaceChildren(
      h("b", null, elvit.t("{0}, block {1}:", name, i)), h("br"),
      elvit.t("input ‖x‖ = {0}  + attention ‖a‖ = {1}  → residual₁ ‖x + a‖ = {2}", fmt(input),
              fmt(attention[i * T + t]), fmt(mid)), h("br"),
      elvit.t("residual₁ ‖·‖ = {0}  + MLP ‖m‖ = {1}  → output ‖·‖ = {2}", fmt(mid), fmt(mlp[i * T + t]),
              fmt(out)), h("br"),
      elvit.t("cosine(input, output) = {0}; length × {1} over the block", fmt(cosines[i * T + t]),
              fmt(out / input)));
    number.set(token);
    slider.set(block);
    view.setState({token: token, block: block});
  }

  const number = elvit.numberBox({label: elvit.t("Token"), min: 0, max: T - 1, value: token,
    hint: elvit.t("0 is CLS, token i + 1 is patch i"), onChange: (t) => { token = t; show(); }});
  const slider = elvit.slider({label: elvit.t("Block"), min: 0, max: L - 1, value: block,
    onChange: (b) => { block = b; show(); }});
  picker.onCells((cell, how) => {
    if (how === "hover") return;
    token = 1 + cell.row * G + cell.col;
    show();
  });
  show();
  view.root.append(h("div", {class: "elvit-controls"}, number.el, slider.el),
                   h("div", {class: "elvit-row"}, h("div", {class: "elvit-column"}, plot.el, legend),
                     h("div", {class: "elvit-column"}, picker.el)),
                   sums);
});
