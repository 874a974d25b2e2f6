/* elvit-patch-predictions: the model's head applied to the CLS token and to a chosen patch
 * token, as two bar charts (views/patch_predictions.py documents the directive).
 * State: {image, patch, cls_top, patch_top, hovered}: the two tokens' most likely classes and the
 * hovered class label (or null). Follows the page's other views of the same image
 * (elvit.interp.tokenLink). */
elvit.register("patch-predictions", (view) => {
  const d = view.data, G = d.grid, N = G * G, S = d.classes.length, H = d.size, P = d.patch;
  const h = elvit.h, I = elvit.interp;
  const images = d.images.map(() => null);
  let img = 0, patch = d.start, hoveredClass = null;

  function unpack(payload) {
    return {probs: elvit.decode(payload.probs), logits: elvit.decode(payload.logits),
            best: elvit.decode(payload.best), bestProb: elvit.decode(payload.best_prob)};
  }
  images[0] = unpack(d);

  /* The data of image i (its predictions and its decoded picture): a Promise. */
  function imageData(i) {
    const predictions = images[i] ? Promise.resolve(images[i])
      : view.chunk(`img-${i}`).then((payload) => (images[i] = unpack(payload)));
    return Promise.all([predictions, I.loadImage(view, i)]).then(([data, picked]) => {
      data.picture = picked;
      return data;
    });
  }

  const values = (data, t) => Array.from(data.probs.subarray(t * S, (t + 1) * S));
  const shownIndex = (data, t) => d.classes.indexOf(data.best[t]);
  const topText = (data, t) => `${d.all_labels[data.best[t]]} (${(100 * data.bestProb[t]).toFixed(1)}%)`;

  const picture = new elvit.Picture({cols: H, rows: H, width: 180, pick: {cols: G, rows: G}, focusable: true,
    title: elvit.t("Click a patch to classify its token"),
    label: elvit.t("Input image cut into {0} by {0} patches; arrow keys or a click choose the patch", G)});
  picture.gridLines();
  const readout = elvit.readout();
  const chartOptions = {labels: d.labels, values: new Array(S).fill(0), max: 1, width: 260,
    axisLabel: elvit.t("probability"), format: (v) => v.toFixed(3), onHover: (i) => describe(i)};
  const clsChart = elvit.charts.bars(Object.assign({title: elvit.t("CLS token")}, chartOptions));
  const patchChart = elvit.charts.bars(Object.assign({title: elvit.t("Patch")}, chartOptions));

  function describe(classIndex) {
    hoveredClass = classIndex === undefined ? hoveredClass : classIndex;
    const data = images[img], t = patch + 1;
    if (hoveredClass === null) {
      readout.replaceChildren(...elvit.tParts("Most likely class: {0} {1}; {2} {3}. Hover a bar to compare one class.",
        h("b", null, elvit.t("CLS token")), topText(data, 0), h("b", null, elvit.t("patch {0}", patch)), topText(data, t)));
    } else {
      const k = hoveredClass, p = (i) => elvit.fmt(data.probs[i * S + k], 4), z = (i) => elvit.fmt(data.logits[i * S + k], 3);
      readout.replaceChildren(...elvit.tParts("{0}: CLS token probability {1} (logit {2}); " +
        "patch {3} probability {4} (logit {5})", h("b", null, d.labels[k]), p(0), z(0), patch, p(t), z(t)));
    }
    view.setState({hovered: hoveredClass === null ? null : d.labels[hoveredClass]});
  }

  /* The CLS token's bars change only with the image; the patch's with the patch. */
  function renderCls() {
    const data = images[img];
    clsChart.update(values(data, 0), shownIndex(data, 0), undefined, elvit.t("CLS token → {0}", topText(data, 0)));
  }

  function render() {
    const data = images[img], t = patch + 1;
    patchChart.update(values(data, t), shownIndex(data, t), undefined,
                      elvit.t("Patch {0} (row {1}, col {2}) → {3}", patch, Math.floor(patch / G), patch % G,
                              topText(data, t)));
    picture.box("patch", (patch % G) * P, Math.floor(patch / G) * P, P, P);
    number.set(patch);
    cursor.moveCursor({col: patch % G, row: Math.floor(patch / G)});
    describe();
    view.setState({image: img, patch: patch, cls_top: d.all_labels[data.best[0]],
                   patch_top: d.all_labels[data.best[t]]});
  }

  function choose(p, byReader) {
    patch = p;
    render();
    if (byReader) I.tokenLink.send(view, d.images[img].id, patch + 1);
  }

  function showImage(i, byReader) {
    img = i;
    if (menu) menu.select.value = String(i);
    return imageData(i).then((data) => {
      if (img !== i) return;
      picture.context.drawImage(data.picture, 0, 0);
      renderCls();
      render();
      if (byReader) I.tokenLink.send(view, d.images[i].id, patch + 1);
    });
  }

  const cursor = picture.onCells((cell, how) => { if (how !== "hover") choose(cell.row * G + cell.col, true); });
  const number = elvit.numberBox({label: elvit.t("Patch"), min: 0, max: N - 1, value: patch,
    hint: elvit.t("{0}×{0} patches, numbered row by row", G), onChange: (p) => choose(p, true)});
  const menu = I.imageMenu(d.images, (i) => showImage(i, true));

  // Another view chose a token of an image this view offers: follow it (CLS keeps the patch).
  I.tokenLink.listen(view, (image, token) => {
    const i = d.images.findIndex((entry) => entry.id === image);
    if (i < 0 || !(token >= 0 && token <= N)) return;
    if (token > 0) patch = token - 1;
    if (i !== img) showImage(i, false); else render();
  });

  view.root.append(
    h("div", {class: "elvit-controls"}, menu ? menu.el : null, number.el),
    h("div", {class: "elvit-row"}, picture.el, clsChart.el, patchChart.el),
    readout);
  return showImage(0, false);
});
