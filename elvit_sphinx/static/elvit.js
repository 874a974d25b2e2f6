/* elvit.js: the runtime of the book's interactive figures (no dependencies, works from file://).
 *
 * Every figure is <figure data-elvit-view="NAME" data-elvit-key="KEY"> holding its data as
 * inline JSON (<script type="application/json" class="elvit-data">). Each view's own script
 * (static/views/NAME.js, loaded after this one) calls elvit.register(NAME, render); render(view)
 * then draws the figure into view.root from view.data.
 *
 * Why no plotting library on the page: measured on a 2-core laptop-class machine, BokehJS alone
 * took ~1 s from navigation to one rendered figure, the whole budget for a chapter page, and
 * 30-120 ms per hover. Heatmaps here are canvases filled from palette indices (one putImageData),
 * frames are positioned <div>s, readouts are text nodes in fixed-size boxes: a hover touches a
 * few hundred bytes and never re-lays out the page.
 *
 * For tests and readers' tools, a figure carries data-elvit-ready ("true" once drawn, "error")
 * and data-elvit-state (JSON: what the reader has selected).
 */
(function () {
  "use strict";
  const elvit = (window.elvit = window.elvit || {});
  const renderers = Object.create(null);
  const chunkSlots = Object.create(null);
  let pending = 0;

  // ---------------------------------------------------------------------------- data
  const ARRAY_TYPES = {u8: Uint8Array, i8: Int8Array, u16: Uint16Array, i16: Int16Array,
                       f32: Float32Array, u32: Uint32Array};

  /* {"dtype", "shape", "b64"} (views/encoding.py) -> typed array with a .shape property. */
  function decode(packed) {
    const text = atob(packed.b64);
    const raw = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) raw[i] = text.charCodeAt(i);
    const Type = ARRAY_TYPES[packed.dtype];
    const array = new Type(raw.buffer, 0, raw.length / Type.BYTES_PER_ELEMENT);
    array.shape = packed.shape;
    return array;
  }
  elvit.decode = decode;

  /* A message in the page's language, its {0}, {1}… replaced by the arguments. Translations come
   * from the build (i18n.py puts window.ELVIT_MESSAGES on the page); without one, the English
   * message is used. Write the message as a plain string literal: `nox -s gettext` collects
   * them from the scripts. */
  elvit.t = function (message, ...args) {
    const table = window.ELVIT_MESSAGES || {};
    const text = Object.prototype.hasOwnProperty.call(table, message) ? table[message] : message;
    return text.replace(/\{(\d+)\}/g, (whole, i) => (i < args.length ? String(args[i]) : whole));
  };

  /* A number as Python's f"{value:.{digits}f}" prints it, with a real minus sign. */
  elvit.fmt = function (value, digits) {
    return Number(value).toFixed(digits).replace("-", "\u2212");
  };

  // ---------------------------------------------------------------------------- DOM
  /* h("div", {class: "x", onclick: fn}, child, "text", ...) */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else if (name === "style" && typeof value === "object") Object.assign(el.style, value);
      else el.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }
  elvit.h = h;

  // ---------------------------------------------------------------------------- pictures
  /* A raster (cols × rows pixels) drawn on a canvas scaled to `width` CSS pixels, with an
   * overlay for frames and boxes placed in raster units, and picking of cells by pointer and
   * keys. Cells are the raster's pixels unless `pick` = {cols, rows} cuts it into a coarser grid
   * (e.g. an image's patches). Options: cols, rows, width, [height], [title], [label]
   * (aria-label), [focusable], [pick], [className]. */
  class Picture {
    constructor(options) {
      this.cols = options.cols;
      this.rows = options.rows;
      this.pick = options.pick || {cols: this.cols, rows: this.rows};
      const width = options.width;
      const height = options.height || Math.round(width * this.rows / this.cols);
      // The aspect ratio (not a fixed height) keeps the shape when a narrow screen shrinks it.
      this.canvas = h("canvas", {width: this.cols, height: this.rows, class: "elvit-canvas",
                                 style: {width: width + "px", aspectRatio: width + " / " + height}});
      this.overlay = h("div", {class: "elvit-overlay"});
      this.frame = h("div", {class: "elvit-picture-frame", style: {width: width + "px", maxWidth: "100%"}},
                     this.canvas, this.overlay);
      if (options.focusable) {
        this.frame.tabIndex = 0;
        this.frame.setAttribute("role", "application");
      }
      if (options.label) this.frame.setAttribute("aria-label", options.label);
      this.titleEl = h("div", {class: "elvit-picture-title"}, options.title || "");
      this.el = h("div", {class: "elvit-picture" + (options.className ? " " + options.className : "")},
                  options.title !== undefined ? this.titleEl : null, this.frame);
      this.context = this.canvas.getContext("2d");
      this.image = this.context.createImageData(this.cols, this.rows);
      this.boxes = Object.create(null);
      this.size = {width: width, height: height};
      // The canvas's size (inside its border, where offsetX/Y are measured) is read only when
      // it changes, never on a pointer move, which would force a layout.
      if (window.ResizeObserver) {
        new ResizeObserver((entries) => {
          const box = entries[0].contentRect;
          this.size = {width: box.width, height: box.height};
        }).observe(this.canvas);
      }
    }

    setTitle(text) { this.titleEl.textContent = text; }

    /* rows*cols*3 RGB bytes, row 0 at the top. */
    drawRGB(rgb, offset) {
      const out = this.image.data, n = this.rows * this.cols, base = offset || 0;
      for (let i = 0, j = base; i < n; i++, j += 3) {
        out[4 * i] = rgb[j]; out[4 * i + 1] = rgb[j + 1]; out[4 * i + 2] = rgb[j + 2]; out[4 * i + 3] = 255;
      }
      this.context.putImageData(this.image, 0, 0);
    }

    /* rows*cols palette indices starting at `offset`, coloured with a 256×3 palette. */
    drawCodes(codes, offset, palette) {
      const out = this.image.data, n = this.rows * this.cols, base = offset || 0;
      for (let i = 0; i < n; i++) {
        const c = 3 * codes[base + i];
        out[4 * i] = palette[c]; out[4 * i + 1] = palette[c + 1]; out[4 * i + 2] = palette[c + 2];
        out[4 * i + 3] = 255;
      }
      this.context.putImageData(this.image, 0, 0);
    }

    /* A rectangle over cells [col, col+w) × [row, row+h), created on first use. */
    box(name, col, row, w, h_, className) {
      let el = this.boxes[name];
      if (!el) {
        el = this.boxes[name] = h("div", {class: "elvit-box " + (className || "")});
        this.overlay.append(el);
      }
      el.hidden = false;
      el.style.left = (100 * col / this.cols) + "%";
      el.style.top = (100 * row / this.rows) + "%";
      el.style.width = (100 * (w || 1) / this.cols) + "%";
      el.style.height = (100 * (h_ || 1) / this.rows) + "%";
      return el;
    }

    hideBox(name) { if (this.boxes[name]) this.boxes[name].hidden = true; }

    /* Pick-grid cell under a pointer event (offsetX/Y are relative to the canvas), or null. */
    cellAt(event) {
      if (event.target !== this.canvas) return null;
      const col = Math.floor(event.offsetX / this.size.width * this.pick.cols);
      const row = Math.floor(event.offsetY / this.size.height * this.pick.rows);
      return col >= 0 && col < this.pick.cols && row >= 0 && row < this.pick.rows ? {col: col, row: row} : null;
    }

    /* Grid lines between pick cells, drawn by CSS (nothing to repaint on the canvas). */
    gridLines(colour) {
      const c = colour || "rgba(255, 255, 255, 0.55)";
      this.overlay.style.backgroundImage = "linear-gradient(to right, " + c + " 1px, transparent 1px)," +
        "linear-gradient(to bottom, " + c + " 1px, transparent 1px)";
      this.overlay.style.backgroundSize = (100 / this.pick.cols) + "% " + (100 / this.pick.rows) + "%";
    }

    /* handler(cell, how) with how = "hover" (the pointer moved onto a new cell), "key" (arrow
     * keys moved the keyboard cursor) or "click" (pointer click, Enter or Space). `cells` limits
     * picking to a sub-grid {col0, row0, cols, rows} of the pick grid (default: all of it). */
    onCells(handler, cells) {
      const area = cells || {col0: 0, row0: 0, cols: this.pick.cols, rows: this.pick.rows};
      const inside = (c) => c && c.col >= area.col0 && c.col < area.col0 + area.cols &&
                            c.row >= area.row0 && c.row < area.row0 + area.rows;
      let last = null, cursor = {col: area.col0, row: area.row0};
      this.canvas.addEventListener("pointermove", (event) => {
        const cell = this.cellAt(event);
        if (!inside(cell) || (last && last.col === cell.col && last.row === cell.row)) return;
        last = cell; cursor = cell;
        handler(cell, "hover");
      });
      this.canvas.addEventListener("pointerleave", () => { last = null; });
      this.canvas.addEventListener("click", (event) => {
        const cell = this.cellAt(event);
        if (inside(cell)) { cursor = cell; handler(cell, "click"); }
      });
      this.frame.addEventListener("keydown", (event) => {
        const moves = {ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1]};
        if (moves[event.key]) {
          const [dc, dr] = moves[event.key];
          cursor = {col: Math.min(Math.max(cursor.col + dc, area.col0), area.col0 + area.cols - 1),
                    row: Math.min(Math.max(cursor.row + dr, area.row0), area.row0 + area.rows - 1)};
          handler(cursor, "key");
        } else if (event.key === "Enter" || event.key === " ") {
          handler(cursor, "click");
        } else {
          return;
        }
        event.preventDefault();
      });
      return {moveCursor: (cell) => { cursor = cell; }};
    }
  }
  elvit.Picture = Picture;

  /* Palette shipped by a view: 256×3 bytes. */
  elvit.palette = (packed) => decode(packed);

  /* A horizontal colour bar with its two ends labelled. */
  elvit.colorbar = function (palette, low, high, label) {
    const bar = new Picture({cols: 256, rows: 1, width: 160, height: 10});
    const codes = new Uint8Array(256).map((_, i) => i);
    bar.drawCodes(codes, 0, palette);
    const lowEl = h("span", {class: "elvit-colorbar-low"}, low);
    const highEl = h("span", {class: "elvit-colorbar-high"}, high);
    const el = h("div", {class: "elvit-colorbar"}, label ? h("span", {class: "elvit-colorbar-label"}, label) : null,
                 lowEl, bar.frame, highEl);
    return {el: el, set: (lo, hi) => { lowEl.textContent = lo; highEl.textContent = hi; }};
  };

  // ---------------------------------------------------------------------------- controls
  /* A text line whose updates do not move anything else on the page (fixed box, contained). */
  elvit.readout = function (className) {
    return h("p", {class: "elvit-readout " + (className || ""), "aria-live": "polite"});
  };

  /* A whole-number box: the reader types a patch or token number. Out of range or not a number
   * shows a message inside the view; onChange runs only with a valid number. */
  elvit.numberBox = function (options) {
    const input = h("input", {type: "number", min: options.min, max: options.max, step: 1,
                              value: options.value, class: "elvit-number", inputmode: "numeric"});
    const message = h("span", {class: "elvit-message", role: "status"});
    const label = h("label", {class: "elvit-control"}, options.label + " ", input);
    function check() {
      const text = input.value.trim();
      const value = Number(text);
      if (text === "" || !Number.isInteger(value) || value < options.min || value > options.max) {
        const range = options.hint ? elvit.t("{0} to {1} ({2})", options.min, options.max, options.hint)
                                   : elvit.t("{0} to {1}", options.min, options.max);
        message.textContent = text === ""
          ? elvit.t("Type a number from {0}.", range)
          : elvit.t("“{0}” is not a number from {1}.", text, range);
        input.setAttribute("aria-invalid", "true");
        return;
      }
      message.textContent = "";
      input.removeAttribute("aria-invalid");
      options.onChange(value);
    }
    input.addEventListener("input", check);
    return {el: h("span", {class: "elvit-number-box"}, label, message), input: input,
            message: message, set: (value) => { input.value = value; message.textContent = ""; input.removeAttribute("aria-invalid"); }};
  };

  /* A menu: options is a list of [value, text]. */
  elvit.select = function (options) {
    const select = h("select", {class: "elvit-select"},
                     options.options.map(([value, text]) => h("option", {value: value}, text)));
    select.value = String(options.value);
    select.addEventListener("change", () => options.onChange(select.value));
    return {el: h("label", {class: "elvit-control"}, options.label + " ", select), select: select};
  };

  /* A range slider with its current value written beside it. */
  elvit.slider = function (options) {
    const input = h("input", {type: "range", min: options.min, max: options.max, step: 1,
                              value: options.value, class: "elvit-slider"});
    const shown = h("output", {class: "elvit-slider-value"}, options.format ? options.format(options.value) : options.value);
    input.addEventListener("input", () => {
      const value = Number(input.value);
      shown.textContent = options.format ? options.format(value) : value;
      options.onChange(value);
    });
    return {el: h("label", {class: "elvit-control"}, options.label + " ", input, shown), input: input,
            set: (value) => { input.value = value; shown.textContent = options.format ? options.format(value) : value; }};
  };

  /* Step back / play / pause / step forward over steps 0…count-1. Starts paused. The timer
   * stops itself when the figure leaves the page. onStep(step, playing) draws a step. */
  elvit.player = function (view, options) {
    let step = options.start || 0, timer = null;
    const period = options.period || 200;
    function stop() { if (timer !== null) clearInterval(timer); timer = null; }
    function go(next) {
      step = Math.min(Math.max(next, 0), options.count - 1);
      options.onStep(step, timer !== null);
    }
    function play() {
      stop();
      if (step >= options.count - 1) step = -1;
      timer = setInterval(() => {
        if (!view.figure.isConnected) { stop(); return; }
        if (step >= options.count - 1) { stop(); go(step); return; }
        go(step + 1);
      }, period);
      go(step + 1);
    }
    const button = (label, action) => h("button", {type: "button", class: "elvit-button", onclick: action}, label);
    const el = h("span", {class: "elvit-player"},
                 button(elvit.t("◀ step back"), () => { stop(); go(step - 1); }),
                 button(elvit.t("▶ play"), play),
                 button(elvit.t("❚❚ pause"), () => { stop(); go(step); }),
                 button(elvit.t("step forward ▶"), () => { stop(); go(step + 1); }));
    return {el: el, go: (s) => { stop(); go(s); }, get step() { return step; },
            get playing() { return timer !== null; }, stop: stop};
  };

  // ---------------------------------------------------------------------------- views
  function contentRoot() {
    const root = document.documentElement.dataset.content_root;
    return root === undefined ? "" : root;
  }

  function chunkSlot(id) {
    if (!chunkSlots[id]) {
      const slot = {requested: false};
      slot.promise = new Promise((resolve, reject) => { slot.resolve = resolve; slot.reject = reject; });
      chunkSlots[id] = slot;
    }
    return chunkSlots[id];
  }

  /* Called by a chunk file (_elvit/KEY/NAME.js), or inline in a standalone page. */
  elvit.chunkLoaded = function (id, payload) {
    const slot = chunkSlot(id);
    slot.requested = true;
    slot.resolve(payload);
  };

  class View {
    constructor(figure) {
      this.figure = figure;
      this.name = figure.dataset.elvitView;
      this.key = figure.dataset.elvitKey;
      this.root = figure.querySelector(".elvit-view-root");
      this.data = JSON.parse(figure.querySelector("script.elvit-data").textContent);
      const links = figure.querySelector("script.elvit-links");
      /* {name: URL} of the places in the book this view links to (ViewSpec.links). */
      this.links = links ? JSON.parse(links.textContent) : {};
      this.state = {};
    }

    /* Record what the reader selected (data-elvit-state), for tests and readers' tools. */
    setState(patch) {
      Object.assign(this.state, patch);
      this.figure.dataset.elvitState = JSON.stringify(this.state);
    }

    /* Data the view left out of the page: a Promise of the chunk's payload. */
    chunk(name) {
      const id = this.key + "/" + name;
      const slot = chunkSlot(id);
      if (!slot.requested) {
        slot.requested = true;
        const script = h("script", {src: contentRoot() + "_elvit/" + id + ".js", async: true});
        script.addEventListener("error", () => slot.reject(new Error(elvit.t("cannot load {0}", script.src))));
        document.head.append(script);
      }
      return slot.promise;
    }

    /* A problem the reader should see inside the figure (never only in the console). */
    fail(message) {
      this.root.append(h("p", {class: "elvit-message elvit-failure", role: "alert"}, message));
    }
  }
  elvit.View = View;

  /* "elvit-views-ready": every figure drawn; "elvit-views-painted": the frame showing them is on
   * screen (a message posted from requestAnimationFrame arrives after that frame's paint). */
  function settle() {
    if (--pending !== 0) return;
    performance.mark("elvit-views-ready");
    requestAnimationFrame(() => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => {
        if (pending === 0 && !performance.getEntriesByName("elvit-views-painted").length) {
          performance.mark("elvit-views-painted");
          startDeferredScripts();
        }
      };
      channel.port2.postMessage(0);
    });
  }

  /* Scripts the extension held back until the figures are on screen (MathJax; assets.py). */
  function startDeferredScripts() {
    document.querySelectorAll('script[type="text/x-elvit-after-views"]').forEach((held) => {
      const script = document.createElement("script");
      for (const attribute of held.attributes) {
        if (attribute.name !== "type") script.setAttribute(attribute.name, attribute.value);
      }
      script.async = false;
      held.replaceWith(script);
    });
  }
  // A page whose figures never finish (a script failed to load) still gets its formulas.
  window.addEventListener("load", () => setTimeout(() => { if (pending !== 0) startDeferredScripts(); }, 3000));

  function renderFigure(figure, render) {
    figure.dataset.elvitReady = "rendering";
    pending++;
    let view;
    try {
      view = new View(figure);
      Promise.resolve(render(view)).then(
        () => { figure.dataset.elvitReady = "true"; settle(); },
        (err) => { figure.dataset.elvitReady = "error"; console.error("elvit:", err); view.fail(String(err)); settle(); });
    } catch (err) {
      figure.dataset.elvitReady = "error";
      console.error("elvit: cannot draw " + figure.dataset.elvitView, err);
      if (view) view.fail(elvit.t("This figure could not be drawn: {0}", err));
      settle();
    }
  }

  function renderAll(name) {
    document.querySelectorAll('figure[data-elvit-view="' + name + '"]').forEach((figure) => {
      if (!figure.dataset.elvitReady) renderFigure(figure, renderers[name]);
    });
  }

  /* Views' scripts are deferred: they run once the page is parsed, before MathJax (which the
   * extension orders after them), so figures are drawn first. */
  elvit.register = function (name, render) {
    renderers[name] = render;
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", () => renderAll(name), {once: true});
    } else {
      renderAll(name);
    }
  };
})();

/* --- Translated messages with elements inside (i18n) -----------------------------------------
 * elvit.tParts(message, ...args): like elvit.t, but an argument may be an element (or a list of
 * elements and strings), e.g. a bold number inside a sentence. It returns the translated message
 * as a list of strings and those elements, in the order the translation puts them:
 *   readout.replaceChildren(...elvit.tParts("{0}: probability {1}", h("b", null, label), p));
 * so a sentence is translated whole even when parts of it are styled. */
(function () {
  "use strict";
  const elvit = window.elvit;
  const split = new Map();  // message → its translation cut at the placeholders (hovers repeat them)
  elvit.tParts = function (message, ...args) {
    let pieces = split.get(message);
    if (!pieces) split.set(message, (pieces = elvit.t(message).split(/\{(\d+)\}/)));  // text, index, …, text
    const parts = [];
    pieces.forEach((piece, k) => {
      if (k % 2 === 0) {
        if (piece) parts.push(piece);
      } else if (Number(piece) < args.length) {
        const value = args[Number(piece)];
        for (const part of [value].flat()) parts.push(part instanceof Node ? part : String(part));
      } else {
        parts.push("{" + piece + "}");
      }
    });
    return parts;
  };
})();
