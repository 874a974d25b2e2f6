/* interpretation.js: what the interpretation views share (similarity, patch-predictions,
 * attention-compare). Loaded after elvit.js on pages that hold one of them.
 *
 *   elvit.interp.paintMap(picture, values, palette)  min-max heatmap from float values
 *   elvit.interp.tokenLink                            keeps the views of one image in step
 *   elvit.interp.tokenName(token, grid)               "CLS" / "patch 45 (row 3, col 3)"
 *   elvit.interp.imageMenu(view, images, onChange)    the image menu (null for one image)
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

  /* Colour `values` (one per cell, row by row) on `picture` with a 256×3 palette, min-max
   * normalised as views/heatmap.codes does; returns [min, max] for the colour bar. */
  function paintMap(picture, values, palette) {
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < values.length; i++) {
      if (values[i] < lo) lo = values[i];
      if (values[i] > hi) hi = values[i];
    }
    const out = picture.image.data, span = hi - lo;
    for (let i = 0; i < values.length; i++) {
      const c = 3 * (span > 0 ? rint((values[i] - lo) / span * 255) : 0);
      out[4 * i] = palette[c]; out[4 * i + 1] = palette[c + 1]; out[4 * i + 2] = palette[c + 2];
      out[4 * i + 3] = 255;
    }
    picture.context.putImageData(picture.image, 0, 0);
    return [lo, hi];
  }

  const tokenLink = {
    send(view, image, token) {
      document.dispatchEvent(new CustomEvent(EVENT, {detail: {image: image, token: token, origin: view.figure.id}}));
    },
    /* handler(image, token) for events from the other figures of the page. */
    listen(view, handler) {
      document.addEventListener(EVENT, (event) => {
        const detail = event.detail || {};
        if (detail.origin !== view.figure.id && view.figure.isConnected) handler(detail.image, detail.token);
      });
    },
  };

  function tokenName(token, grid) {
    if (token === 0) return "CLS";
    const patch = token - 1;
    return `patch ${patch} (row ${Math.floor(patch / grid)}, col ${patch % grid})`;
  }

  /* A menu of the view's images, "name (the model says: label, p %)"; null for only one image. */
  function imageMenu(images, onChange) {
    if (images.length < 2) return null;
    return elvit.select({
      label: "Image", value: 0,
      options: images.map((image, i) => [i, `${image.name} (the model says: ${image.label}, ${(100 * image.prob).toFixed(1)}%)`]),
      onChange: (value) => onChange(Number(value)),
    });
  }

  /* The pixels of image `index`: inline for the first, a chunk ("img-INDEX") for the others. */
  function imagePixels(view, index) {
    if (index === 0) return Promise.resolve(elvit.decode(view.data.image));
    return view.chunk(`img-${index}`).then((payload) => elvit.decode(payload.image));
  }

  elvit.interp = {paintMap: paintMap, rint: rint, tokenLink: tokenLink, tokenName: tokenName,
                  imageMenu: imageMenu, imagePixels: imagePixels};
})();
