/* elvit-head: final LayerNorm of CLS, the classifier's rows, logits (views/head.py).
 * State: {class: label of the class whose dot product is shown}. */
elvit.register("head", (view) => {
  const d = view.data, h = elvit.h, D = d.hidden, K = d.classes.length;
  const z = elvit.decode(d.cls_after), weights = elvit.decode(d.weights), biases = elvit.decode(d.biases);
  const logits = elvit.decode(d.logits), probs = elvit.decode(d.probs), palette = elvit.decode(d.palette);
  const fmt = (v) => elvit.fmt(v, 4);
  const strip = (title) => new elvit.Picture({cols: d.cols, rows: d.rows, width: 176, title: title});
  const before = strip(elvit.t("CLS after the last block ({0} numbers)", D));
  before.drawCodes(elvit.decode(d.before_codes), 0, palette);
  const after = strip(elvit.t("… after the final LayerNorm: z"));
  after.drawCodes(elvit.decode(d.after_codes), 0, palette);
  const products = strip(elvit.t("w_k,j · z_j for the chosen class"));
  const rowPx = Math.max(6, Math.min(18, Math.floor(220 / K)));
  const matrix = new elvit.Picture({cols: D, rows: K, width: 420, height: rowPx * K, pick: {cols: 1, rows: K},
    title: elvit.t("Classifier weights: {0} rows of {1}", K, D), focusable: true,
    label: elvit.t("Classifier weight rows; arrow keys choose a class")});
  matrix.drawCodes(elvit.decode(d.weight_codes), 0, palette);
  const readout = elvit.readout("elvit-mono");
  const codes = new Uint8Array(D), product = new Float64Array(D);

  function choose(k) {
    let dot = 0, lo = Infinity, hi = -Infinity;
    for (let j = 0; j < D; j++) {
      product[j] = weights[k * D + j] * z[j];
      dot += product[j];
      lo = Math.min(lo, product[j]); hi = Math.max(hi, product[j]);
    }
    for (let j = 0; j < D; j++) codes[j] = hi > lo ? Math.round((product[j] - lo) / (hi - lo) * 255) : 0;
    products.drawCodes(codes, 0, palette);
    products.setTitle(elvit.t("w · z for “{0}”, feature by feature", d.labels[k]));
    matrix.box("row", 0, k, D, 1);
    readout.replaceChildren(h("b", null, d.labels[k]),
      elvit.t(": w · z = {0}, + bias {1} = logit ", fmt(dot), fmt(biases[k])),
      h("b", null, fmt(logits[k])), elvit.t(" → softmax probability {0}", fmt(probs[k])));
    view.setState({"class": d.labels[k]});
    chart.hover(k);  // its onHover sees this class already chosen
  }

  const chart = elvit.charts.bars({labels: d.labels, values: Array.from(probs), max: 1, highlight: 0,
    width: 420, title: elvit.t("Softmax of the logits"), axisLabel: elvit.t("probability"),
    format: (v) => v.toFixed(3),
    onHover: (k) => { if (k !== null && view.state["class"] !== d.labels[k]) choose(k); }});
  matrix.onCells((cell) => choose(cell.row));
  choose(0);
  view.root.append(
    h("div", {class: "elvit-row"}, h("div", {class: "elvit-column"}, before.el, after.el, products.el),
      h("div", {class: "elvit-column"}, matrix.el, chart.el)),
    readout);
});
