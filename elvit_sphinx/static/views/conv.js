/* elvit-conv: the patch embedding as a convolution, one kernel stepping patch by patch
 * (views/conv.py documents the directive). State: {step, kernel, playing}. */
elvit.register("conv", (view) => {
  const d = view.data, H = d.size, P = d.patch, G = d.grid, N = G * G, K = d.kernels.length;
  const image = elvit.decode(d.image), kernels = elvit.decode(d.kernel_pictures);
  const values = elvit.decode(d.values), dots = elvit.decode(d.dots), biases = elvit.decode(d.biases);
  const codes = elvit.decode(d.codes), palette = elvit.decode(d.palette);
  const h = elvit.h, fmt = (v) => elvit.fmt(v, 4);

  const big = new elvit.Picture({cols: H, rows: H, width: Math.min(320, 2 * H), pick: {cols: G, rows: G},
    title: elvit.t("Input: {0}×{0} patches of {1}×{1} pixels", G, P), focusable: true,
    label: elvit.t("Input image; click a patch, or use arrow keys and Enter, to jump to it")});
  big.drawRGB(image);
  big.gridLines();
  const patch = new elvit.Picture({cols: P, rows: P, width: 120, title: elvit.t("Current patch")});
  const kernel = new elvit.Picture({cols: P, rows: P, width: 120, title: ""});
  const out = new elvit.Picture({cols: G, rows: G, width: 280, title: "", focusable: true,
    label: elvit.t("Output map; click a cell to jump to its patch")});
  const readout = elvit.readout();
  const crop = new Uint8Array(P * P * 3);
  // Cells not computed yet are transparent: the page's own background, light or dark.
  const empty = [0, 0, 0, 0];
  let k = Math.max(0, d.kernels.indexOf(d.start_kernel));

  function drawOutput(step) {
    const px = out.image.data;
    for (let i = 0; i < N; i++) {
      const c = 3 * codes[k * N + i];
      const rgba = i <= step ? [palette[c], palette[c + 1], palette[c + 2], 255] : empty;
      px[4 * i] = rgba[0]; px[4 * i + 1] = rgba[1]; px[4 * i + 2] = rgba[2]; px[4 * i + 3] = rgba[3];
    }
    out.context.putImageData(out.image, 0, 0);
  }

  function render(step, playing) {
    const row = Math.floor(step / G), col = step % G, c = d.kernels[k];
    for (let y = 0; y < P; y++) {
      const from = ((row * P + y) * H + col * P) * 3;
      crop.set(image.subarray(from, from + P * 3), y * P * 3);
    }
    patch.drawRGB(crop);
    big.box("frame", col * P, row * P, P, P);
    out.box("cell", col, row);
    drawOutput(step);
    const j = k * N + step;
    readout.replaceChildren(h("b", null, elvit.t("patch {0}", step)),
      elvit.t(" (row {0}, col {1}) · kernel {2}: patch · kernel = {3}, + bias {4} = ", row, col, c,
              fmt(dots[j]), fmt(biases[k])),
      h("b", null, fmt(values[j])), elvit.t(" → output cell ({0}, {1})", row, col));
    number.set(step);
    cursors.forEach((cursor) => cursor.moveCursor({col: col, row: row}));
    view.setState({step: step, kernel: c, playing: playing});
  }

  function chooseKernel(index) {
    k = index;
    kernel.drawRGB(kernels, k * P * P * 3);
    kernel.setTitle(elvit.t("Kernel {0} ({1}×{1}×3)", d.kernels[k], P));
    out.setTitle(elvit.t("Output map of kernel {0}", d.kernels[k]));
  }

  const player = elvit.player(view, {count: N, period: d.period, onStep: render});
  const number = elvit.numberBox({label: elvit.t("Patch"), min: 0, max: N - 1, value: 0,
    hint: elvit.t("numbered row by row"), onChange: (i) => player.go(i)});
  const menu = elvit.select({label: elvit.t("Kernel"), value: d.kernels[k],
    options: d.kernels.map((c) => [c, elvit.t("kernel {0}", c)]),
    onChange: (value) => { chooseKernel(d.kernels.indexOf(Number(value))); render(player.step, player.playing); }});
  const jump = (cell, how) => { if (how !== "hover") player.go(cell.row * G + cell.col); };
  const cursors = [big.onCells(jump), out.onCells(jump)];
  chooseKernel(k);
  render(0, false);
  view.root.append(
    h("div", {class: "elvit-controls"}, player.el, menu.el, number.el),
    h("div", {class: "elvit-row"}, big.el, h("div", {class: "elvit-column"}, patch.el, kernel.el), out.el),
    readout);
});
