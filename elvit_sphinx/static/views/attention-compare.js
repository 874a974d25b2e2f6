/* elvit-attention-compare: cosine similarity to CLS, CLS attention and attention rollout for one
 * block, side by side (views/attention_compare.py documents the directive).
 * State: {block, head ("mean" or a head number), hovered (patch number or null)}. */
elvit.register("attention-compare", (view) => {
  const d = view.data, G = d.grid, N = G * G, L = d.layers, H = d.size, P = d.patch;
  const h = elvit.h, I = elvit.interp;
  const palette = elvit.decode(d.palette);
  const maps = {similarity: elvit.decode(d.similarity), attention: elvit.decode(d.attention),
                rollout: elvit.decode(d.rollout)};
  let heads = null, headsRequest = null;
  let layer = d.start_layer - 1, head = d.start_head, hovered = null;

  const picture = new elvit.Picture({cols: H, rows: H, width: 160, pick: {cols: G, rows: G}, focusable: true,
    title: elvit.t("The image"),
    label: elvit.t("Input image; hover or use the arrow keys to read the three maps at a patch")});
  picture.gridLines();

  const panels = [
    ["similarity", elvit.t("Cosine similarity to CLS"), (v) => elvit.fmt(v, 4),
     elvit.t("How closely each patch token's vector after this block points the same way as the CLS token's vector " +
             "(the EL-VIT view).")],
    ["attention", elvit.t("CLS attention"), (v) => elvit.fmt(v, 5),
     elvit.t("How much weight the CLS token's query gives each patch in this block's attention; " +
             "over all tokens the weights sum to 1.")],
    ["rollout", elvit.t("Attention rollout"), (v) => elvit.fmt(v, 5),
     elvit.t("How much of each input patch has flowed into CLS through every block up to this one, " +
             "counting the residual path.")],
  ].map(([key, title, format, sentence]) => {
    const map = new elvit.Picture({cols: G, rows: G, width: 160, title: title, label: title});
    const bar = elvit.colorbar(palette, "", "", "");
    return {key: key, title: title, format: format, map: map, bar: bar,
            el: h("div", {class: "elvit-column elvit-interp-panel"}, map.el, bar.el,
                  h("p", {class: "elvit-interp-sentence"}, sentence))};
  });

  /* The N values a panel shows for the current block (and head). */
  function values(key) {
    if (key === "attention" && head !== "mean" && heads) {
      const start = (layer * d.heads + head) * N;
      return heads.subarray(start, start + N);
    }
    return maps[key].subarray(layer * N, (layer + 1) * N);
  }

  function describe() {
    if (hovered === null) {
      readout.replaceChildren(elvit.t("Block {0} of {1}. Hover a patch on any map to read its three values.", layer + 1, L));
      return;
    }
    const [similarity, attention, rollout] = panels.map((panel) => panel.format(values(panel.key)[hovered]));
    readout.replaceChildren(...elvit.tParts("{0} after block {1}: cosine similarity to CLS {2} · CLS attention {3} · " +
      "attention rollout {4}", h("b", null, I.tokenName(hovered + 1, G)), layer + 1, similarity, attention, rollout));
  }

  function paint() {
    for (const panel of panels) {
      const [lo, hi] = I.paintMap(panel.map, values(panel.key), palette);
      panel.bar.set(panel.format(lo), panel.format(hi));
    }
    panels[1].map.setTitle(head === "mean" ? elvit.t("CLS attention, mean of the heads")
                                           : elvit.t("CLS attention, head {0}", head));
    describe();
    view.setState({block: layer + 1, head: head, hovered: hovered});
  }

  function setHead(value) {
    head = value === "mean" ? "mean" : Number(value);
    if (head === "mean" || heads) { paint(); return Promise.resolve(); }
    if (!headsRequest) {
      headsRequest = view.chunk("heads").then((payload) => { heads = elvit.decode(payload.heads); });
    }
    return headsRequest.then(paint);
  }

  function hover(patch) {
    hovered = patch;
    for (const panel of panels) {
      if (patch === null) panel.map.hideBox("hover");
      else panel.map.box("hover", patch % G, Math.floor(patch / G), 1, 1, "elvit-box-soft");
    }
    if (patch === null) picture.hideBox("hover");
    else picture.box("hover", (patch % G) * P, Math.floor(patch / G) * P, P, P);
    describe();
    view.setState({hovered: hovered});
  }

  const readout = elvit.readout();
  const onCell = (cell) => hover(cell.row * G + cell.col);
  picture.onCells(onCell);
  for (const panel of panels) panel.map.onCells(onCell);
  for (const canvas of [picture.canvas, ...panels.map((panel) => panel.map.canvas)]) {
    canvas.addEventListener("pointerleave", () => hover(null));
  }
  const slider = elvit.slider({label: elvit.t("Block"), min: 1, max: L, value: layer + 1,
    format: (v) => elvit.t("{0} of {1}", v, L), onChange: (v) => { layer = v - 1; paint(); }});
  const headMenu = elvit.select({label: elvit.t("Attention of"), value: head,
    options: [["mean", elvit.t("the mean of the heads")],
              ...Array.from({length: d.heads}, (_, i) => [i, elvit.t("head {0}", i)])],
    onChange: setHead});

  view.root.append(
    h("div", {class: "elvit-controls"}, slider.el, headMenu.el),
    h("div", {class: "elvit-row"}, picture.el, panels.map((panel) => panel.el)),
    readout);
  return Promise.all([I.loadImage(view, 0).then((picked) => picture.context.drawImage(picked, 0, 0)),
                      setHead(head)]);
});
