/* tokens.js: pieces shared by the views that work on tokens (posembed, layernorm), loaded before
 * elvit.js on their pages (ViewSpec.libraries), so everything here looks up elvit.* only when
 * called.
 *
 *   elvit.heat.codes(values, offset, count, lo, hi)  palette indices exactly as views/heatmap.py
 *   elvit.heat.range(values, offset, count)          [min, max]
 *   elvit.heat.stretch(picture, width, height)       show a raster at any aspect ratio
 *   elvit.heat.decodeRow(packed, row)                one row of a packed 2-D array
 *   elvit.tokenPicker(options)                       CLS cell + patch grid + token number box
 *   elvit.tokenName(token, grid)                     "CLS (token 0)", "token 5 = patch 4 (row 0, col 4)"
 *
 * Token numbering is the model's: token 0 is CLS and patch i (row by row from 0, as in the
 * patches view) is token i + 1. */
(function () {
  "use strict";
  const elvit = (window.elvit = window.elvit || {});
  const heat = (elvit.heat = {});

  /* NumPy's rint: halves go to the even neighbour (Math.round sends them up). */
  heat.rint = function (v) {
    const r = Math.round(v);
    return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
  };

  heat.range = function (values, offset, count) {
    let lo = Infinity, hi = -Infinity;
    for (let i = offset; i < offset + count; i++) {
      const v = values[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    return [lo, hi];
  };

  /* Palette indices of values[offset .. offset+count) for the range lo…hi (default: their own
   * min…max): the same float64 operations as views/heatmap.codes, so the page's colours are
   * the static figures' colours. Values outside lo…hi are clamped; a map with no range (or a
   * value that is not a number) gets index 0. */
  heat.codes = function (values, offset, count, lo, hi, out) {
    if (lo === undefined) [lo, hi] = heat.range(values, offset, count);
    const codes = out || new Uint8Array(count);
    const span = hi - lo;
    for (let i = 0; i < count; i++) {
      const v = values[offset + i];
      codes[i] = span > 0 && v === v ? Math.min(255, Math.max(0, heat.rint((v - lo) / span * 255))) : 0;
    }
    return codes;
  };

  /* Row `row` of a packed (views/encoding.py) rows × cols array, decoding only its bytes: a
   * ViT-B/16 LayerNorm chunk holds 2 × 197 × 768 floats, and the page shows one token. Base64
   * turns 3 bytes into 4 characters, so the row is cut out of whole 3-byte groups. */
  heat.decodeRow = function (packed, row) {
    const Type = {u8: Uint8Array, i8: Int8Array, u16: Uint16Array, i16: Int16Array,
                  f32: Float32Array, u32: Uint32Array}[packed.dtype];
    const rowBytes = packed.shape[1] * Type.BYTES_PER_ELEMENT;
    const start = row * rowBytes, first = Math.floor(start / 3);
    const last = Math.ceil((start + rowBytes) / 3);
    const text = atob(packed.b64.slice(4 * first, 4 * last));
    const bytes = new Uint8Array(rowBytes);
    for (let i = 0, j = start - 3 * first; i < rowBytes; i++, j++) bytes[i] = text.charCodeAt(j);
    return new Type(bytes.buffer);
  };

  /* elvit.Picture keeps a raster's own aspect ratio; a 197×768 matrix or a 1×768 strip needs
   * another one. Cells stay pickable: cellAt reads picture.size. */
  heat.stretch = function (picture, width, height) {
    picture.canvas.style.width = width + "px";
    picture.canvas.style.aspectRatio = width + " / " + height;
    picture.frame.style.width = width + "px";
    picture.size = {width: width, height: height};
    // Shrinking a raster by dropping cells would hide single bright columns; let the browser
    // average instead. Enlarged rasters stay sharp (elvit.css: pixelated).
    if (picture.cols > width || picture.rows > height) picture.canvas.style.imageRendering = "auto";
    return picture;
  };

  /* The tokens of a model as a reader picks them: a CLS cell beside the grid×grid patches, and
   * a number box. Options: grid, width, title, label, [start], onPick(token, how) with how =
   * "click" | "key" | "type", [onHover(token)]. draw(codes, palette) colours the T cells
   * (codes[0] = CLS). Returns {el, numberBox, grid, cls, draw, mark(token)}. */
  elvit.tokenPicker = function (options) {
    const h = elvit.h, G = options.grid, N = G * G;
    const cellSize = options.width / G;
    const grid = new elvit.Picture({cols: G, rows: G, width: options.width, focusable: true,
      label: options.label || elvit.t("Patch grid: arrow keys move the chosen patch, Enter chooses it")});
    grid.gridLines("rgba(255, 255, 255, 0.35)");
    const clsSize = Math.max(24, Math.round(cellSize * 1.5));
    const cls = new elvit.Picture({cols: 1, rows: 1, width: clsSize, focusable: true,
      label: elvit.t("CLS token (token 0): Enter chooses it")});
    const pick = (token, how) => { mark(token); options.onPick(token, how); };
    const cursor = grid.onCells((cell, how) => {
      const token = 1 + cell.row * G + cell.col;
      if (how === "hover") { if (options.onHover) options.onHover(token); } else pick(token, how);
    });
    cls.onCells((cell, how) => {
      if (how === "hover") { if (options.onHover) options.onHover(0); } else pick(0, how);
    });
    const numberBox = elvit.numberBox({label: elvit.t("Token"), min: 0, max: N, value: options.start || 0,
      hint: elvit.t("0 is CLS, patch i is token i + 1"), onChange: (token) => pick(token, "type")});
    function mark(token) {
      if (token === 0) {
        cls.box("chosen", 0, 0);
        grid.hideBox("chosen");
      } else {
        const i = token - 1, cell = {col: i % G, row: Math.floor(i / G)};
        grid.box("chosen", cell.col, cell.row);
        cls.hideBox("chosen");
        cursor.moveCursor(cell);
      }
      numberBox.set(token);
    }
    const colour = new Uint8Array(1);
    function draw(codes, palette) {
      colour[0] = codes[0];
      cls.drawCodes(colour, 0, palette);
      grid.drawCodes(codes, 1, palette);
    }
    const el = h("div", {class: "elvit-token-picker"},
      options.title ? h("div", {class: "elvit-picture-title"}, options.title) : null,
      h("div", {class: "elvit-row"},
        h("div", {class: "elvit-column elvit-cls-cell"}, cls.el, h("span", null, elvit.t("CLS"))), grid.el));
    return {el: el, numberBox: numberBox, grid: grid, cls: cls, draw: draw, mark: mark, size: N + 1};
  };

  /* A token as the reader reads it: CLS, or a patch with its place in the grid×grid patches. */
  elvit.tokenName = function (token, grid) {
    if (token === 0) return elvit.t("CLS (token 0)");
    const i = token - 1;
    return elvit.t("token {0} = patch {1} (row {2}, col {3})", token, i, Math.floor(i / grid), i % grid);
  };
})();
