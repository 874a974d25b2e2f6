/* interpretation.js: what the interpretation views share (similarity, patch-predictions,
 * attention-compare). Loaded after elvit.js on pages that hold one of them.
 *
 *   elvit.interp.paintMap(picture, values, palette)  min-max heatmap from float values
 *   elvit.interp.Strip                                small maps side by side in one canvas
 *   elvit.interp.tokenLink                            keeps the views of one image in step
 *   elvit.interp.tokenName(token, grid)               "CLS" / "patch 45 (row 3, col 3)"
 *   elvit.interp.imageMenu(images, onChange)          the image menu (null for one image)
 *   elvit.interp.loadImage(view, index)               the view's image `index`, decoded
 *
 * The page-level link. A view that lets the reader choose a token dispatches, on `document`,
 *
 *     new CustomEvent("elvit:token", {detail: {image, token, origin}})
 *
 * with `image` the image's id (views/image_menu.py: the start of its SHA-256, the same in every
 * view of that image), `token` the token index (0 = CLS, patch k = k + 1) and `origin` the
 * dispatching figure's id. Every other view showing that image (or offering it in its menu)
 * switches to it and to that token, without dispatching in turn, so views never echo. Readers'
 * own scripts may listen to, or send, the same event.
 *
 * Like charts.js, this file is loaded before elvit.js: it only uses the runtime when called.
 */
(function () {
  "use strict";
  const elvit = (window.elvit = window.elvit || {});
  const EVENT = "elvit:token";

  /* Python's np.rint: round half to even, so codes equal views/heatmap.codes exactly. */
  function rint(x) {
    const r = Math.round(x);
    return (r - x === 0.5 && r % 2 !== 0) ? r - 1 : r;
  }

  /* Colour `values` (a square map of side `grid`, row by row) into `picture`'s pixels starting
   * at column `x0`, with a 256×3 palette, min-max normalised as views/heatmap.codes does;
   * returns [min, max]. Nothing reaches the screen until `picture.show()`. */
  function colourMap(picture, values, palette, x0, grid) {
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < values.length; i++) {
      if (values[i] < lo) lo = values[i];
      if (values[i] > hi) hi = values[i];
    }
    const out = picture.image.data, span = hi - lo, width = picture.cols;
    for (let i = 0; i < values.length; i++) {
      const c = 3 * (span > 0 ? rint((values[i] - lo) / span * 255) : 0);
      const at = 4 * (Math.floor(i / grid) * width + x0 + i % grid);
      out[at] = palette[c]; out[at + 1] = palette[c + 1]; out[at + 2] = palette[c + 2]; out[at + 3] = 255;
    }
    return [lo, hi];
  }

  /* A whole picture as one min-max heatmap of `values`; returns [min, max] for its colour bar. */
  function paintMap(picture, values, palette) {
    const range = colourMap(picture, values, palette, 0, picture.cols);
    picture.context.putImageData(picture.image, 0, 0);
    return range;
  }

  /* Several small maps side by side in ONE canvas (a gap of one pixel between them): one
   * element to repaint instead of one per map, which matters when a reader's action redraws
   * them all. onPick(index) is called when a map is clicked. */
  class Strip {
    constructor(options) {
      this.count = options.count;
      this.grid = options.grid;
      this.picture = new elvit.Picture({cols: options.count * (options.grid + 1) - 1, rows: options.grid,
                                        width: options.width, className: "elvit-interp-strip",
                                        label: options.label});
      this.picture.image.data.fill(255);
      this.picture.overlay.append(...Array.from({length: options.count}, (_, i) => elvit.h("span",
        {class: "elvit-interp-strip-label",
         style: {left: (100 * i * (options.grid + 1) / this.picture.cols) + "%",
                 width: (100 * options.grid / this.picture.cols) + "%"}}, options.labels[i])));
      this.picture.canvas.addEventListener("click", (event) => {
        const cell = this.picture.cellAt(event);
        if (cell && cell.col % (this.grid + 1) !== this.grid) options.onPick(Math.floor(cell.col / (this.grid + 1)));
      });
      this.el = this.picture.el;
    }
    /* Colour map `index` (not yet on screen: call show()). */
    colour(index, values, palette) { return colourMap(this.picture, values, palette, index * (this.grid + 1), this.grid); }
    show() { this.picture.context.putImageData(this.picture.image, 0, 0); }
    frame(index) { this.picture.box("current", index * (this.grid + 1), 0, this.grid, this.grid); }
  }

  const tokenLink = {
    send(view, image, token) {
      document.dispatchEvent(new CustomEvent(EVENT, {detail: {image: image, token: token, origin: view.figure.id}}));
    },
    /* handler(image, token) for events from the other figures of the page. It runs once the
     * frame answering the reader's action in the figure they touched is on screen (the other
     * figures follow one frame later), and only for the latest of several quick events. */
    listen(view, handler) {
      let latest = null;
      document.addEventListener(EVENT, (event) => {
        const detail = event.detail || {};
        if (detail.origin === view.figure.id || !view.figure.isConnected) return;
        const waiting = latest !== null;
        latest = detail;
        if (waiting) return;
        requestAnimationFrame(() => setTimeout(() => {
          const last = latest;
          latest = null;
          handler(last.image, last.token);
        }));
      });
    },
  };

  function tokenName(token, grid) {
    if (token === 0) return elvit.t("CLS");
    const patch = token - 1;
    return elvit.t("patch {0} (row {1}, col {2})", patch, Math.floor(patch / grid), patch % grid);
  }

  /* A menu of the view's images, "name (the model says: label, p %)"; null for only one image. */
  function imageMenu(images, onChange) {
    if (images.length < 2) return null;
    return elvit.select({
      label: elvit.t("Image"), value: 0,
      options: images.map((image, i) => [i, elvit.t("{0} (the model says: {1}, {2}%)", image.name, image.label,
                                                    (100 * image.prob).toFixed(1))]),
      onChange: (value) => onChange(Number(value)),
    });
  }

  /* Image `index` of a view with an image menu, decoded: a Promise of an <img> to draw with
   * drawImage. Pictures travel as PNG (views/encoding.encode_png), inline for the first image
   * and in a chunk ("img-INDEX") for the others; the browser decodes them off the main thread,
   * and drawn at their own size they give the exact bytes the model saw. */
  function loadImage(view, index) {
    const packed = index === 0 ? Promise.resolve(view.data.image)
      : view.chunk(`img-${index}`).then((payload) => payload.image);
    return packed.then((png) => {
      const img = new Image();
      img.src = "data:image/png;base64," + png.b64;
      return img.decode().then(() => img);
    });
  }

  elvit.interp = {paintMap: paintMap, rint: rint, Strip: Strip, tokenLink: tokenLink, tokenName: tokenName,
                  imageMenu: imageMenu, loadImage: loadImage};
})();
