/* mosaic.js: tensors as mosaics of small heatmaps (views/mosaic.py describes the layout).
 *
 * A picture arrives as {png, lo, hi}: an 8-bit grayscale PNG (base64) whose rows are tiles (one
 * channel's values over the tokens) or the rows of per-head maps, holding palette indices, and
 * each tile's or map's minimum and maximum. The PNG is decoded by the browser from a data: URL
 * (a data: image leaves the canvas readable, also from file://), read back once, then:
 *
 *   elvit.mosaic.decode(picture)          Promise of a sheet {rgba, lo, hi}
 *   elvit.mosaic.paint(target, sheet, layout, palette)  colours the mosaic into an elvit.Picture
 *   elvit.mosaic.locate(layout, x, y)     {index, token} (tiles) or {index, query, key} (maps)
 *                                         under mosaic pixel (x, y), or null (a gap)
 *   elvit.mosaic.origin(layout, index)    top-left pixel of a tile or map
 *   elvit.mosaic.code(sheet, layout, index, token, key)  the palette index of one value
 *   elvit.mosaic.value(sheet, index, code)  {value, half}: the value a code stands for and half a
 *                                         colour step (the largest possible error)
 *   elvit.mosaic.tileCells(layout)        (x, y) of every token's cell inside a tile (Fig. 6)
 */
(function () {
  "use strict";
  const elvit = (window.elvit = window.elvit || {});
  const mosaic = (elvit.mosaic = {});

  function origin(L, index) {
    const group = Math.floor(index / L.group), within = index % L.group;
    const row = group * L.rows_per_group + Math.floor(within / L.per_row);
    return [(within % L.per_row) * (L.tile_w + L.gap), row * (L.tile_h + L.gap) + group * L.group_gap];
  }
  mosaic.origin = origin;

  /* For a tile: x and y of each token's cell (the CLS cell alone on the first row). */
  function tileCells(L) {
    const xs = new Int32Array(L.tokens), ys = new Int32Array(L.tokens), g = L.grid;
    for (let t = 0; t < L.tokens; t++) {
      const p = L.cls ? t - 1 : t;
      if (L.cls && t === 0) { xs[t] = 0; ys[t] = 0; continue; }
      xs[t] = p % g; ys[t] = Math.floor(p / g) + (L.cls ? 1 : 0);
    }
    return {xs: xs, ys: ys};
  }
  mosaic.tileCells = tileCells;

  mosaic.decode = async function (picture) {
    const image = new Image();
    image.src = "data:image/png;base64," + picture.png;
    await image.decode();
    const canvas = document.createElement("canvas");
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    const context = canvas.getContext("2d", {willReadFrequently: true});
    context.drawImage(image, 0, 0);
    return {rgba: context.getImageData(0, 0, canvas.width, canvas.height).data, cols: canvas.width,
            lo: elvit.decode(picture.lo), hi: elvit.decode(picture.hi)};
  };

  /* Colour a sheet into an elvit.Picture sized layout.width × layout.height. */
  mosaic.paint = function (target, sheet, L, palette) {
    const out = target.image.data, W = L.width, rgba = sheet.rgba;
    out.fill(0);  // gaps and the empty cells beside the CLS cell stay transparent
    if (L.kind === "maps") {
      const n = L.tokens;
      for (let m = 0; m < L.count; m++) {
        const [ox, oy] = origin(L, m);
        for (let q = 0; q < n; q++) {
          let p = ((oy + q) * W + ox) * 4, s = (m * n + q) * n * 4;
          for (let k = 0; k < n; k++, p += 4, s += 4) {
            const c = 3 * rgba[s];
            out[p] = palette[c]; out[p + 1] = palette[c + 1]; out[p + 2] = palette[c + 2]; out[p + 3] = 255;
          }
        }
      }
    } else {
      const cells = tileCells(L), offsets = new Int32Array(L.tokens);
      for (let t = 0; t < L.tokens; t++) offsets[t] = cells.ys[t] * W + cells.xs[t];
      for (let i = 0; i < L.count; i++) {
        const [ox, oy] = origin(L, i), base = oy * W + ox;
        let s = i * L.tokens * 4;
        for (let t = 0; t < L.tokens; t++, s += 4) {
          const p = (base + offsets[t]) * 4, c = 3 * rgba[s];
          out[p] = palette[c]; out[p + 1] = palette[c + 1]; out[p + 2] = palette[c + 2]; out[p + 3] = 255;
        }
      }
    }
    target.context.putImageData(target.image, 0, 0);
  };

  mosaic.locate = function (L, x, y) {
    if (x < 0 || y < 0 || x >= L.width || y >= L.height) return null;
    const groupHeight = L.rows_per_group * (L.tile_h + L.gap) + L.group_gap;
    const group = Math.floor(y / groupHeight), yy = y - group * groupHeight;
    const row = Math.floor(yy / (L.tile_h + L.gap)), col = Math.floor(x / (L.tile_w + L.gap));
    const cx = x - col * (L.tile_w + L.gap), cy = yy - row * (L.tile_h + L.gap);
    if (row >= L.rows_per_group || cx >= L.tile_w || cy >= L.tile_h || col >= L.per_row) return null;
    const within = row * L.per_row + col, index = group * L.group + within;
    if (within >= L.group || index >= L.count) return null;
    if (L.kind === "maps") return {index: index, query: cy, key: cx};
    let token;
    if (L.cls) {
      if (cy === 0) { if (cx !== 0) return null; token = 0; } else token = 1 + (cy - 1) * L.grid + cx;
    } else {
      token = cy * L.grid + cx;
    }
    return {index: index, token: token};
  };

  /* Palette index of tile `index`'s token (tiles), or of map `index`'s (query, key) (maps). */
  mosaic.code = function (sheet, L, index, tokenOrQuery, key) {
    const at = L.kind === "maps" ? (index * L.tokens + tokenOrQuery) * L.tokens + key : index * L.tokens + tokenOrQuery;
    return sheet.rgba[4 * at];
  };

  mosaic.value = function (sheet, index, code) {
    const lo = sheet.lo[index], hi = sheet.hi[index];
    return {value: lo + (code / 255) * (hi - lo), half: (hi - lo) / 510};
  };

  /* "≈ 0.123 ± 0.002": the value to the digits its colour step allows. */
  mosaic.formatApprox = function (value, half) {
    if (!(half > 0)) return "= " + elvit.fmt(value, 4);
    const digits = Math.min(6, Math.max(0, Math.ceil(-Math.log10(half))));
    return "≈ " + elvit.fmt(value, digits) + " ± " + half.toFixed(digits);
  };
})();
