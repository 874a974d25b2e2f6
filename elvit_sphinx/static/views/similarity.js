/* elvit-similarity: cosine similarity between a chosen token and every patch, block by block
 * (views/similarity.py documents the directive). State: {image, block, token, hovered,
 * blocks_loaded}: token 0 = CLS, patch k = k + 1; hovered is a patch number or null;
 * blocks_loaded becomes the number of blocks once the strip has every block of the image.
 *
 * Data: one chunk per (image, block), the upper triangle of the T×T similarity matrix, expanded
 * once into a full Float32Array; a change of token or block then paints rows of those arrays. */
elvit.register("similarity", (view) => {
  const d = view.data, G = d.grid, N = G * G, T = d.tokens, L = d.layers, H = d.size, P = d.patch;
  const h = elvit.h, I = elvit.interp, fmt = (v) => elvit.fmt(v, 4);
  const palette = elvit.decode(d.palette);
  const matrices = d.images.map(() => new Array(L).fill(null));
  const requests = d.images.map(() => new Array(L).fill(null));
  let img = 0, layer = d.start_layer - 1, token = d.start_token, hovered = null;

  function expand(triangle) {
    const full = new Float32Array(T * T);
    for (let i = 0, k = 0; i < T; i++) {
      for (let j = i; j < T; j++, k++) { full[i * T + j] = triangle[k]; full[j * T + i] = triangle[k]; }
    }
    return full;
  }

  /* Block `l` of image `i`: a Promise of its T×T matrix (requested once). */
  function blockData(i, l) {
    if (!requests[i][l]) {
      requests[i][l] = view.chunk(`sim-${i}-${l}`).then((payload) => {
        matrices[i][l] = expand(elvit.decode(payload.sim));
        return matrices[i][l];
      });
    }
    return requests[i][l];
  }

  /* Similarity of token `t` to the N patches (tokens 1…N) in matrix `m`. */
  const row = (m, t) => m.subarray(t * T + 1, t * T + T);

  const picture = new elvit.Picture({cols: H, rows: H, width: 280, pick: {cols: G, rows: G}, focusable: true,
    title: elvit.t("The image: click a patch to compare it"),
    label: elvit.t("Input image cut into {0} by {0} patches; arrow keys or a click choose the patch to compare", G)});
  picture.gridLines();
  const heat = new elvit.Picture({cols: G, rows: G, width: 280, title: "",
    label: elvit.t("Cosine similarity of the chosen token to every patch")});
  const bar = elvit.colorbar(palette, "", "", elvit.t("cosine similarity"));
  const readout = elvit.readout();
  const strip = new I.Strip({count: L, grid: G, width: Math.min(760, 60 * L),
    labels: Array.from({length: L}, (_, l) => elvit.t("block {0}", l + 1)), onPick: (l) => setLayer(l),
    label: elvit.t("The chosen token's map after every block; click one to show that block")});

  function describe() {
    const m = matrices[img][layer], who = I.tokenName(token, G);
    if (!m) { readout.replaceChildren(elvit.t("Loading block {0}…", layer + 1)); return; }
    const values = row(m, token);
    if (hovered !== null) {
      readout.replaceChildren(...elvit.tParts("{0}: cosine similarity to {1} after block {2} = {3}",
        h("b", null, I.tokenName(hovered + 1, G)), who, layer + 1, h("b", null, fmt(values[hovered]))));
      return;
    }
    let best = -1, worst = -1;
    for (let j = 0; j < N; j++) {
      if (j === token - 1) continue;  // a patch is always most similar to itself
      if (best < 0 || values[j] > values[best]) best = j;
      if (worst < 0 || values[j] < values[worst]) worst = j;
    }
    readout.replaceChildren(...elvit.tParts("{0} after block {1}: most similar {2} ({3}), least similar {4} ({5}). " +
      "Hover a patch to read its value.", h("b", null, who), layer + 1,
      I.tokenName(best + 1, G), fmt(values[best]), I.tokenName(worst + 1, G), fmt(values[worst])));
  }

  /* Colour block l's map into the strip; the caller shows the strip. */
  function colourTile(l) {
    const m = matrices[img][l];
    if (m) strip.colour(l, row(m, token), palette);
  }

  /* The main map, its frames and texts; `tilesToo` repaints the strip (a new token or image:
   * a new block changes only which of its maps is framed). */
  function paint(tilesToo) {
    const m = matrices[img][layer];
    if (m) {
      const [lo, hi] = I.paintMap(heat, row(m, token), palette);
      bar.set(fmt(lo), fmt(hi));
    }
    heat.setTitle(token === 0 ? elvit.t("Similarity to the CLS token after block {0} of {1}", layer + 1, L)
                              : elvit.t("Similarity to patch {0} after block {1} of {2}", token - 1, layer + 1, L));
    if (token > 0) {
      const r = Math.floor((token - 1) / G), c = (token - 1) % G;
      picture.box("token", c * P, r * P, P, P);
      heat.box("token", c, r);
    } else {
      picture.hideBox("token");
      heat.hideBox("token");
    }
    if (tilesToo) {
      for (let l = 0; l < L; l++) colourTile(l);
      strip.show();
    }
    strip.frame(layer);
    describe();
    view.setState({image: img, block: layer + 1, token: token, hovered: hovered});
  }

  function setLayer(l) {
    layer = l;
    slider.set(l + 1);
    paint(false);
    if (!matrices[img][l]) blockData(img, l).then(() => { if (layer === l) paint(false); });
  }

  function choose(t, byReader) {
    token = t;
    number.set(t > 0 ? t - 1 : "");
    if (t > 0) cursor.moveCursor({col: (t - 1) % G, row: Math.floor((t - 1) / G)});
    paint(true);
    if (byReader) I.tokenLink.send(view, d.images[img].id, token);
  }

  function hover(patch) {
    hovered = patch;
    if (patch === null) heat.hideBox("hover");
    else heat.box("hover", patch % G, Math.floor(patch / G), 1, 1, "elvit-box-soft");
    describe();
    view.setState({hovered: hovered});
  }

  /* The other blocks of image i, one at a time once the figure is on screen, so that loading
   * them never holds up the page's first paint or a reader's action; each map of the strip is
   * painted as its block arrives. */
  function loadRemainingBlocks(i) {
    const idle = window.requestIdleCallback
      ? (callback) => requestIdleCallback(callback, {timeout: 500}) : (callback) => setTimeout(callback, 20);
    const next = (l) => {
      if (img !== i) return;
      if (l >= L) { view.setState({blocks_loaded: L}); return; }
      if (matrices[i][l]) { next(l + 1); return; }
      idle(() => blockData(i, l).then(() => {
        if (img === i) { colourTile(l); strip.show(); }
        next(l + 1);
      }));
    };
    next(0);
  }

  /* Show image i; resolves once its pixels and current block are painted. */
  function showImage(i, byReader) {
    img = i;
    view.setState({blocks_loaded: null});
    if (menu) menu.select.value = String(i);
    return Promise.all([I.loadImage(view, i), blockData(i, layer)]).then(([picked]) => {
      if (img !== i) return;
      picture.context.drawImage(picked, 0, 0);
      paint(true);
      if (byReader) I.tokenLink.send(view, d.images[i].id, token);
      loadRemainingBlocks(i);
    });
  }

  const onCell = (cell, how) => {
    const patch = cell.row * G + cell.col;
    if (how === "hover") hover(patch);
    else choose(patch + 1, true);
  };
  const cursor = picture.onCells(onCell);
  heat.onCells(onCell);
  for (const canvas of [picture.canvas, heat.canvas]) canvas.addEventListener("pointerleave", () => hover(null));

  const slider = elvit.slider({label: elvit.t("Block"), min: 1, max: L, value: layer + 1,
    format: (v) => elvit.t("{0} of {1}", v, L), onChange: (v) => setLayer(v - 1)});
  const number = elvit.numberBox({label: elvit.t("Patch"), min: 0, max: N - 1, value: token > 0 ? token - 1 : "",
    hint: elvit.t("{0}×{0} patches, numbered row by row", G), onChange: (p) => choose(p + 1, true)});
  const clsButton = h("button", {type: "button", class: "elvit-button", onclick: () => choose(0, true)},
                      elvit.t("CLS token"));
  const menu = I.imageMenu(d.images, (i) => showImage(i, true));

  I.tokenLink.listen(view, (image, t) => {
    const i = d.images.findIndex((entry) => entry.id === image);
    if (i < 0 || !(t >= 0 && t < T)) return;
    token = t;
    number.set(t > 0 ? t - 1 : "");
    if (i !== img) showImage(i, false); else paint(true);
  });

  view.root.append(
    h("div", {class: "elvit-controls"}, menu ? menu.el : null, slider.el, number.el, clsButton),
    h("div", {class: "elvit-row"}, picture.el, h("div", {class: "elvit-column"}, heat.el, bar.el)),
    readout,
    strip.el);
  return showImage(0, false);
});
