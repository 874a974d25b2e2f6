/* elvit-patches: the image cut into patches; hover, click or type a patch to see its pixels and
 * its embedding (views/patches.py documents the directive). State: {patch, pinned}. */
elvit.register("patches", (view) => {
  const d = view.data, H = d.size, P = d.patch, G = d.grid, D = d.hidden;
  const image = elvit.decode(d.image), codes = elvit.decode(d.codes);
  const stats = elvit.decode(d.stats), palette = elvit.decode(d.palette);
  const h = elvit.h, fmt = (v) => elvit.fmt(v, 3);

  const big = new elvit.Picture({cols: H, rows: H, width: Math.min(448, 2 * H), pick: {cols: G, rows: G},
    title: elvit.t("The image the model sees: {0}×{0} patches of {1}×{1} pixels", G, P), focusable: true,
    label: elvit.t("Input image cut into {0} by {0} patches; arrow keys choose a patch, Enter pins it", G)});
  big.drawRGB(image);
  big.gridLines();
  const pixels = new elvit.Picture({cols: P, rows: P, width: 160, title: elvit.t("Its {0}×{0} pixels, enlarged", P)});
  const heat = new elvit.Picture({cols: d.cols, rows: d.rows, width: 320,
    title: elvit.t("Its embedding: {0} numbers as {1}×{2}", D, d.rows, d.cols)});
  const readout = elvit.readout();
  const crop = new Uint8Array(P * P * 3);
  let shown = -1, pinned = false;

  function show(i, pin) {
    const row = Math.floor(i / G), col = i % G;
    for (let y = 0; y < P; y++) {
      const from = ((row * P + y) * H + col * P) * 3;
      crop.set(image.subarray(from, from + P * 3), y * P * 3);
    }
    pixels.drawRGB(crop);
    heat.drawCodes(codes, i * D, palette);
    big.box("frame", col * P, row * P, P, P, "elvit-box-fill");
    readout.replaceChildren(h("b", null, elvit.t("patch {0}", i)),
      elvit.t(" · row {0}, col {1} · {2} numbers: min {3}, max {4}, mean {5}", row, col, D,
              fmt(stats[3 * i]), fmt(stats[3 * i + 1]), fmt(stats[3 * i + 2])),
      h("i", null, pin ? elvit.t(" · pinned: click it again to release") : elvit.t(" · click to pin")));
    shown = i; pinned = pin;
    cursor.moveCursor({col: col, row: row});
    view.setState({patch: i, pinned: pin});
  }

  const number = elvit.numberBox({label: elvit.t("Patch"), min: 0, max: G * G - 1, value: d.start,
    hint: elvit.t("{0}×{0} patches, numbered row by row", G), onChange: (i) => show(i, true)});
  const cursor = big.onCells((cell, how) => {
    const i = cell.row * G + cell.col;
    if (how === "hover" && pinned) return;
    const pin = how === "click" ? !(pinned && shown === i) : pinned;
    show(i, pin);
    number.set(i);
  });
  show(d.start, false);
  view.root.append(h("div", {class: "elvit-controls"}, number.el),
                   h("div", {class: "elvit-row"}, big.el, h("div", {class: "elvit-column"}, pixels.el, heat.el)),
                   readout);
});
