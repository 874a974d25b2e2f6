/* mosaic.js: tensors as mosaics of small heatmaps (views/mosaic.py describes the layout).
 *
 * A picture arrives as {png, lo, hi}: an 8-bit grayscale PNG (base64) whose rows are tiles (one
 * channel's values over the tokens) or the rows of per-head maps, holding palette indices, and
 * each tile's or map's minimum and maximum. Nothing is fetched: the PNG's bytes are in the
 * chunk (a script, which also loads from file://), then:
 *
 *   elvit.mosaic.decode(picture)          Promise of a sheet {codes, cols, lo, hi}
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

  /* The palette indices of an 8-bit grayscale PNG, row by row. The zlib stream is inflated by
   * the browser (DecompressionStream, native and off the main thread) and the rows unfiltered
   * here: measured on a 2-core machine this is several times faster than decoding an <img> and
   * reading its pixels back from a canvas, which remains the fallback. */
  async function pngCodes(b64) {
    const bytes = base64Bytes(b64);
    if (typeof DecompressionStream === "undefined") return imageCodes(b64);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let width = 0, height = 0;
    const idat = [];
    for (let at = 8; at < bytes.length;) {  // after the 8-byte signature: length, type, data, CRC
      const length = view.getUint32(at), type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
      if (type === "IHDR") {
        width = view.getUint32(at + 8); height = view.getUint32(at + 12);
        if (bytes[at + 16] !== 8 || bytes[at + 17] !== 0 || bytes[at + 20] !== 0) return imageCodes(b64);
      } else if (type === "IDAT") {
        idat.push(bytes.subarray(at + 8, at + 8 + length));
      }
      at += 12 + length;
    }
    const stream = new Blob(idat).stream().pipeThrough(new DecompressionStream("deflate"));
    const raw = new Uint8Array(await new Response(stream).arrayBuffer());
    return {codes: unfilter(raw, width, height), cols: width};
  }

  /* PNG filters (None, Sub, Up, Average, Paeth) undone, one byte per pixel: one loop per filter
   * type (a branch per byte made this the slowest step of opening a level). */
  function unfilter(raw, width, height) {
    const out = new Uint8Array(width * height);
    for (let y = 0; y < height; y++) {
      const type = raw[y * (width + 1)], src = y * (width + 1) + 1, row = y * width, up = row - width;
      const line = raw.subarray(src, src + width);
      if (type === 0 || (type === 2 && y === 0)) {
        out.set(line, row);
      } else if (type === 1) {
        let left = 0;
        for (let x = 0; x < width; x++) out[row + x] = left = (line[x] + left) & 255;
      } else if (type === 2) {
        for (let x = 0; x < width; x++) out[row + x] = line[x] + out[up + x];
      } else if (type === 3) {
        let left = 0;
        for (let x = 0; x < width; x++) {
          out[row + x] = left = (line[x] + ((left + (y ? out[up + x] : 0)) >> 1)) & 255;
        }
      } else {
        let left = 0, corner = 0;
        for (let x = 0; x < width; x++) {
          const above = y ? out[up + x] : 0, p = left + above - corner;
          const pa = Math.abs(p - left), pb = Math.abs(p - above), pc = Math.abs(p - corner);
          left = (line[x] + (pa <= pb && pa <= pc ? left : pb <= pc ? above : corner)) & 255;
          out[row + x] = left;
          corner = above;
        }
      }
    }
    return out;
  }

  function base64Bytes(b64) {
    return Uint8Array.fromBase64 ? Uint8Array.fromBase64(b64) : elvit.decode({dtype: "u8", shape: [0], b64: b64});
  }

  async function imageCodes(b64) {
    const image = new Image();
    image.src = "data:image/png;base64," + b64;
    await image.decode();
    const canvas = document.createElement("canvas");
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    const context = canvas.getContext("2d", {willReadFrequently: true});
    context.drawImage(image, 0, 0);
    const rgba = context.getImageData(0, 0, canvas.width, canvas.height).data;
    const codes = new Uint8Array(rgba.length / 4);
    for (let i = 0; i < codes.length; i++) codes[i] = rgba[4 * i];
    return {codes: codes, cols: canvas.width};
  }

  mosaic.decode = async function (picture) {
    const decoded = await pngCodes(picture.png);
    return {codes: decoded.codes, cols: decoded.cols, lo: elvit.decode(picture.lo), hi: elvit.decode(picture.hi)};
  };
  mosaic.unfilter = unfilter;

  /* The palette as one 32-bit RGBA word per colour (little-endian, as every browser's canvas). */
  const packedPalettes = new WeakMap();
  function packed(palette) {
    if (!packedPalettes.has(palette)) {
      const words = new Uint32Array(256);
      for (let i = 0; i < 256; i++) {
        words[i] = (255 << 24 | palette[3 * i + 2] << 16 | palette[3 * i + 1] << 8 | palette[3 * i]) >>> 0;
      }
      packedPalettes.set(palette, words);
    }
    return packedPalettes.get(palette);
  }

  /* Colour a sheet into an elvit.Picture sized layout.width × layout.height. */
  mosaic.paint = function (target, sheet, L, palette) {
    const data = target.image.data, W = L.width, codes = sheet.codes, colours = packed(palette);
    const out = new Uint32Array(data.buffer, data.byteOffset, data.byteLength / 4);
    out.fill(0);  // gaps and the empty cells beside the CLS cell stay transparent
    if (L.kind === "maps") {
      const n = L.tokens;
      for (let m = 0; m < L.count; m++) {
        const [ox, oy] = origin(L, m);
        for (let q = 0; q < n; q++) {
          let p = (oy + q) * W + ox, s = (m * n + q) * n;
          for (let k = 0; k < n; k++) out[p++] = colours[codes[s++]];
        }
      }
    } else {
      const cells = tileCells(L), offsets = new Int32Array(L.tokens);
      for (let t = 0; t < L.tokens; t++) offsets[t] = cells.ys[t] * W + cells.xs[t];
      for (let i = 0; i < L.count; i++) {
        const [ox, oy] = origin(L, i), base = oy * W + ox;
        let s = i * L.tokens;
        for (let t = 0; t < L.tokens; t++) out[base + offsets[t]] = colours[codes[s++]];
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
    return sheet.codes[at];
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
