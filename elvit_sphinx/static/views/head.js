/* elvit-head: final LayerNorm of CLS, the classifier's rows, logits (views/head.py).
 * State: {class: label of the class whose dot product is shown}. */
elvit.register("head", (view) => {
  const d = view.data, h = elvit.h, D = d.hidden, K = d.classes.length;
  const z = elvit.decode(d.cls_after), weights = elvit.decode(d.weights), biases = elvit.decode(d.biases);
  const logits = elvit.decode(d.logits), probs = elvit.decode(d.probs), palette = elvit.decode(d.palette);
  const fmt = (v) => elvit.fmt(v, 4);
  const strip = (title) => new elvit.Picture({cols: d.cols, rows: d.rows, width: 176, title: title});
  const before = strip(`CLS after the last block (${D} numbers)`);
  before.drawCodes(elvit.decode(d.before_codes), 0, palette);
  const after = strip("… after the final LayerNorm: z");
  after.drawCodes(elvit.decode(d.after_codes), 0, palette);
  const products = strip("w_k,j · z_j for the chosen class");
  const rowPx = Math.max(6, Math.min(18, Math.floor(220 / K)));
  const matrix = new elvit.Picture({cols: D, rows: K, width: 420, height: rowPx * K, pick: {cols: 1, rows: K},
    title: `Classifier weights: ${K} rows of ${D}`, focusable: true,
    label: "Classifier weight rows; arrow keys choose a class"});
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
    products.setTitle(`w · z for “${d.labels[k]}”, feature by feature`);
    matrix.box("row", 0, k, D, 1);
    readout.replaceChildren(h("b", null, d.labels[k]), `: w · z = ${fmt(dot)}, + bias ${fmt(biases[k])} = logit `,
      h("b", null, fmt(logits[k])), ` → softmax probability ${fmt(probs[k])}`);
    view.setState({"class": d.labels[k]});
    chart.hover(k);  // its onHover sees this class already chosen
  }

  const chart = elvit.charts.bars({labels: d.labels, values: Array.from(probs), max: 1, highlight: 0,
    width: 420, title: "Softmax of the logits", axisLabel: "probability", format: (v) => v.toFixed(3),
    onHover: (k) => { if (k !== null && view.state["class"] !== d.labels[k]) choose(k); }});
  matrix.onCells((cell) => choose(cell.row));
  choose(0);
  view.root.append(
    h("div", {class: "elvit-row"}, h("div", {class: "elvit-column"}, before.el, after.el, products.el),
      h("div", {class: "elvit-column"}, matrix.el, chart.el)),
    readout);
});
