/* elvit-detail: every tensor of the forward pass as mosaics of channel heatmaps, level by level
 * (views/detail.py documents the directive; static/mosaic.js draws the mosaics).
 * State: {level, focus: tensor shown large or null, drawn: level id once its pictures are on
 * screen, cell: {tensor, index, token | query & key, code} under the pointer, note: text}. */
elvit.register("detail", async (view) => {
  const d = view.data, h = elvit.h, M = elvit.mosaic, fmt = elvit.fmt;
  const palette = elvit.decode(d.palette);
  const probs = elvit.decode(d.prediction.probs), logits = elvit.decode(d.prediction.logits);
  const CARD = 196, WIDE = 700, LENS = 140, PREFETCH_AFTER_MS = 150;
  const trail = elvit.focus.trail();
  // Focusable by script: after a click, Escape (handled on the view's root) still goes up.
  const stage = h("div", {class: "elvit-dt-stage", tabindex: -1});
  const about = elvit.readout("elvit-dt-about");
  const readout = elvit.readout("elvit-dt-readout");
  const bar = elvit.colorbar(palette, "", "", elvit.t("channel"));
  const barLabel = bar.el.querySelector(".elvit-colorbar-label");
  const lensHolder = h("div", {class: "elvit-dt-lens"});
  const decoded = new Map(), painted = new Map();
  let here = {level: d.start, focus: null}, ticket = 0, pinned = false, lens = null;

  /* The decoded pictures of one chunk (loaded once; the last few levels are kept). */
  function sheets(chunk) {
    if (!decoded.has(chunk)) {
      const payload = chunk === d.inline.chunk ? Promise.resolve(d.inline.payload) : view.chunk(chunk);
      decoded.set(chunk, payload.then(async (payload) => {
        const names = Object.keys(payload.pictures);
        const done = await Promise.all(names.map((name) => M.decode(payload.pictures[name])));
        return Object.fromEntries(names.map((name, i) => [name, done[i]]));
      }));
      if (decoded.size > 8) decoded.delete(decoded.keys().next().value);
    }
    return decoded.get(chunk);
  }

  /* Token t, and which patch it is; `kind` chooses the phrase: a token, a query or a key. */
  function tokenName(t, cls, kind) {
    const p = cls ? t - 1 : t, row = Math.floor(p / d.grid), col = p % d.grid;
    if (cls && t === 0) {
      return kind === "query" ? elvit.t("query token {0} (CLS)", t)
        : kind === "key" ? elvit.t("key token {0} (CLS)", t) : elvit.t("token {0} (CLS)", t);
    }
    return kind === "query" ? elvit.t("query token {0} (patch {1}: row {2}, col {3})", t, p, row, col)
      : kind === "key" ? elvit.t("key token {0} (patch {1}: row {2}, col {3})", t, p, row, col)
        : elvit.t("token {0} (patch {1}: row {2}, col {3})", t, p, row, col);
  }

  function describe(item) {
    const before = item.tensor ? elvit.focus.tensor(item.tensor, item.shape) : [];
    about.replaceChildren(...elvit.focus.describe(view, d.parts[item.part], before));
  }

  function idle() {
    if (pinned) return;
    readout.replaceChildren(here.focus === null
      ? elvit.t("Hover a picture to read a value; click it to open it; click empty space (or Escape) to go back.")
      : elvit.t("Hover to read a value, click to pin it; click empty space (or Escape) to go back."));
  }

  // ----------------------------------------------------------------- the magnifier ("lens")
  function lensFor(layout) {
    const rows = layout.kind === "maps" || layout.cls ? d.grid + 1 : d.grid;
    if (!lens || lens.rows !== rows) {
      lens = new elvit.Picture({cols: d.grid, rows: rows, width: LENS, title: ""});
      lensHolder.replaceChildren(lens.el);
    }
    return lens;
  }

  /* One tile (or one query row of a map, as a tile over the keys), enlarged, its cell framed. */
  function drawLens(card, hit) {
    const L = card.layout, picture = lensFor(L), out = picture.image.data;
    const tile = M.tileCells({tokens: L.tokens, grid: d.grid, cls: L.kind === "maps" || L.cls});
    out.fill(0);
    for (let t = 0; t < L.tokens; t++) {
      const code = L.kind === "maps" ? M.code(card.sheet, L, hit.index, hit.query, t) : M.code(card.sheet, L, hit.index, t);
      const p = (tile.ys[t] * d.grid + tile.xs[t]) * 4, c = 3 * code;
      out[p] = palette[c]; out[p + 1] = palette[c + 1]; out[p + 2] = palette[c + 2]; out[p + 3] = 255;
    }
    picture.context.putImageData(picture.image, 0, 0);
    const t = L.kind === "maps" ? hit.key : hit.token;
    picture.box("cell", tile.xs[t], tile.ys[t], 1, 1);
    picture.setTitle(L.kind === "maps" ? elvit.t("head {0}, query {1}: over the keys", hit.index, hit.query)
                                       : elvit.t("channel {0}, enlarged", hit.index));
  }

  function showCell(card, hit) {
    const L = card.layout, item = card.item, maps = L.kind === "maps";
    const code = maps ? M.code(card.sheet, L, hit.index, hit.query, hit.key) : M.code(card.sheet, L, hit.index, hit.token);
    const v = M.value(card.sheet, hit.index, code);
    const [ox, oy] = M.origin(L, hit.index);
    let where;
    if (maps) {
      where = elvit.t("head {0} · {1} · {2}", hit.index, tokenName(hit.query, true, "query"), tokenName(hit.key, true, "key"));
      card.picture.box("cursor", ox, oy + hit.query, L.tile_w, 1);
    } else {
      where = L.group < L.count
        ? elvit.t("head {0}, channel {1} · {2}", Math.floor(hit.index / L.group), hit.index % L.group, tokenName(hit.token, L.cls))
        : elvit.t("channel {0} · {1}", hit.index, tokenName(hit.token, L.cls));
      card.picture.box("cursor", ox, oy, L.tile_w, L.tile_h);
    }
    readout.replaceChildren(...elvit.tParts("{0} · {1} · value {2}", h("code", {class: "elvit-mono"}, item.tensor), where,
                                            h("b", null, M.formatApprox(v.value, v.half))),
                            pinned ? h("i", null, " · ", elvit.t("pinned: click again to release")) : "");
    bar.set(fmt(card.sheet.lo[hit.index], 3), fmt(card.sheet.hi[hit.index], 3));
    barLabel.textContent = maps ? elvit.t("head {0}", hit.index) : elvit.t("channel {0}", hit.index);
    drawLens(card, hit);
    card.cursor = hit;
    view.setState({cell: {tensor: item.tensor, index: hit.index, token: maps ? null : hit.token,
                          query: maps ? hit.query : null, key: maps ? hit.key : null, code: code,
                          pinned: pinned}});
  }

  function showNote(card, note) {
    if (note === card.note) return;
    card.note = note || null;
    if (note) {
      card.picture.box("note", note.x0, note.y0, note.x1 - note.x0, note.y1 - note.y0, "elvit-dt-note-box");
      about.replaceChildren(h("b", null, elvit.t("Note:")), " ", note.text);
    } else {
      card.picture.hideBox("note");
      describe(card.item);
    }
    view.setState({note: note ? note.text : null});
  }

  // ----------------------------------------------------------------- cards
  function tensorCard(item, index, big, cardWidth) {
    const whole = big && item.whole, L = whole ? item.whole.layout : item.layout;
    const notes = whole ? item.whole.notes : item.notes, target = big ? WIDE : cardWidth;
    const scale = L.width > target ? target / L.width : Math.max(1, Math.min(big ? 6 : 4, Math.floor(target / L.width)));
    // + 2: the canvas's border, so that its content is exactly `scale` pixels per cell.
    const picture = new elvit.Picture({cols: L.width, rows: L.height, width: Math.round(L.width * scale) + 2,
                                       className: scale < 1 ? "elvit-dt-smooth" : ""});
    const total = item.whole ? item.whole.layout.count : L.count, maps = L.kind === "maps";
    const count = L.count < total
      ? (maps ? elvit.t("heads 0–{0} of {1} shown: open it to see all", L.count - 1, total)
        : elvit.t("channels 0–{0} of {1} shown: open it to see all", L.count - 1, total))
      : (maps ? elvit.t("{0} heads, {1}×{1} each", total, L.tokens) : elvit.t("{0} channels", total));
    const action = item.opens ? elvit.t("{0}: Enter opens it", item.label)
      : big ? item.label : elvit.t("{0}: Enter shows it large", item.label);
    const el = h("div", {class: "elvit-dt-card" + (item.opens ? " elvit-dt-opens" : ""), tabindex: 0,
                         role: "button", "data-item": index, style: {width: target + 16 + "px"},
                         "aria-label": action},
                 h("div", {class: "elvit-dt-title"}, item.label + (item.opens ? " ▸" : "")),
                 h("div", {class: "elvit-dt-sub"}, h("code", {class: "elvit-mono"}, item.tensor), " " + item.shape),
                 picture.el, h("div", {class: "elvit-dt-sub"}, count));
    const card = {el: el, item: item, index: index, layout: L, notes: notes || [], picture: picture,
                  chunk: whole ? item.whole.chunk : d.levels[here.level].chunk, sheet: null, note: null, cursor: null};
    picture.canvas.addEventListener("pointermove", (event) => {
      if (!card.sheet) return;
      const cell = picture.cellAt(event);
      if (!cell) return;
      showNote(card, card.notes.find((n) => cell.col >= n.x0 && cell.col < n.x1 && cell.row >= n.y0 && cell.row < n.y1));
      if (pinned) return;
      const hit = M.locate(L, cell.col, cell.row);
      if (hit) showCell(card, hit);
    });
    picture.canvas.addEventListener("pointerleave", () => showNote(card, null));
    el.addEventListener("keydown", (event) => {
      if (!card.sheet || !event.key.startsWith("Arrow")) return;
      event.preventDefault();
      const c = card.cursor || (L.kind === "maps" ? {index: 0, query: 0, key: 0} : {index: 0, token: 0});
      const step = {ArrowLeft: -1, ArrowRight: 1, ArrowUp: -1, ArrowDown: 1}[event.key];
      const across = event.key === "ArrowLeft" || event.key === "ArrowRight";
      const wrap = (v, n) => (v + n) % n;
      if (L.kind === "maps") {
        if (across) c.key = wrap(c.key + step, L.tokens); else c.query = wrap(c.query + step, L.tokens);
      } else if (across) {
        c.token = wrap(c.token + step, L.tokens);
      } else {
        c.index = wrap(c.index + step, L.count);
      }
      showCell(card, Object.assign({}, c));
    });
    return card;
  }

  function predictionCard(item, index) {
    const order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a]).slice(0, 20);
    const top = d.prediction.top, label = d.prediction.labels;
    const rows = order.map((k) => {
      const row = h("div", {class: "elvit-dt-bar-row" + (k === top ? " elvit-dt-top" : ""), tabindex: 0,
                            "data-class": label[k]},
                    h("span", {class: "elvit-dt-bar-label"}, label[k]),
                    h("span", {class: "elvit-dt-bar"}, h("span", {style: {width: (100 * probs[k]).toFixed(2) + "%"}})),
                    h("span", {class: "elvit-dt-bar-value"}, fmt(probs[k], 3)));
      const show = () => {
        const name = h("b", null, label[k]), p = fmt(probs[k], 4), logit = fmt(logits[k], 3);
        readout.replaceChildren(...(k === top
          ? elvit.tParts("{0}: probability {1}, logit {2} · the model's prediction", name, p, logit)
          : elvit.tParts("{0}: probability {1}, logit {2}", name, p, logit)));
        view.setState({cell: {tensor: "probs", index: k}});
      };
      row.addEventListener("pointerenter", show);
      row.addEventListener("focus", show);
      return row;
    });
    const el = h("div", {class: "elvit-dt-card elvit-dt-prediction", "data-item": index},
                 h("div", {class: "elvit-dt-title"}, `${item.label}: ${label[top]} (${(100 * probs[top]).toFixed(1)}%)`),
                 h("div", {class: "elvit-dt-sub"}, h("code", {class: "elvit-mono"}, item.tensor), " " + item.shape),
                 h("div", {class: "elvit-dt-winner"},
                   h("img", {src: "data:image/png;base64," + d.thumbnail, alt: elvit.t("the input image"), width: 56, height: 56}),
                   h("span", null, ...elvit.tParts("top class: {0}", h("b", null, label[top])))),
                 rows);
    return {el: el, item: item, index: index};
  }

  function plainCard(item, index) {
    const body = item.kind === "image"
      ? h("img", {src: "data:image/png;base64," + d.thumbnail, alt: elvit.t("the input image"), class: "elvit-dt-thumb"})
      : h("div", {class: "elvit-dt-stack", "aria-hidden": "true"}, h("span"), h("span"), h("span"));
    const el = h("div", {class: "elvit-dt-card" + (item.opens ? " elvit-dt-opens" : ""), tabindex: 0, role: "button",
                         "data-item": index, "aria-label": item.opens ? elvit.t("{0}: Enter opens it", item.label) : item.label},
                 h("div", {class: "elvit-dt-title"}, item.label + (item.opens ? " ▸" : "")),
                 item.tensor ? h("div", {class: "elvit-dt-sub"}, h("code", {class: "elvit-mono"}, item.tensor), " " + item.shape) : null,
                 body);
    return {el: el, item: item, index: index};
  }

  // ----------------------------------------------------------------- levels
  function open(card, how) {
    if (card.item.opens) { show(card.item.opens, null, how); return; }
    if (here.focus === null && card.picture) { show(here.level, card.index, how); return; }
    if (card.picture && card.cursor) {  // large picture: pin or release the value read out
      pinned = !pinned;
      showCell(card, card.cursor);
    }
  }

  function up(how) {
    if (here.focus !== null) { show(here.level, null, how, here.focus); return true; }
    const parent = d.levels[here.level].parent;
    if (parent === null) return false;
    const from = here.level;
    const index = d.levels[parent].items.findIndex((item) => item.opens === from);
    show(parent, null, how, index);
    return true;
  }

  function setTrail() {
    const chain = [];
    for (let id = here.level; id !== null; id = d.levels[id].parent) chain.unshift(id);
    const steps = chain.map((id) => ({label: d.levels[id].title, go: () => show(id, null)}));
    if (here.focus !== null) steps.push({label: d.levels[here.level].items[here.focus].label, go: null});
    trail.set(steps);
  }

  /* The cards of one level (or of one tensor shown large), with their events; not yet painted. */
  function buildCards(level, focus, big) {
    const chosen = big ? [[level.items[focus], focus]] : level.items.map((item, i) => [item, i]);
    // Three cards a row (four on the encoder's long list), read once per level, not per hover.
    const perRow = chosen.length >= 8 ? 4 : 3, room = stage.clientWidth || 560;
    const cardWidth = Math.max(120, Math.min(CARD, Math.floor((room - 18 - (perRow - 1) * 10) / perRow) - 14));
    const cards = chosen.map(([item, i]) => (item.kind === "tiles" || item.kind === "maps") ? tensorCard(item, i, big, cardWidth)
                                           : item.kind === "prediction" ? predictionCard(item, i) : plainCard(item, i));
    for (const card of cards) {
      card.el.addEventListener("click", (event) => { event.stopPropagation(); open(card, "click"); });
      card.el.addEventListener("keydown", (event) => {
        if (event.target === card.el && (event.key === "Enter" || event.key === " ")) { event.preventDefault(); open(card, "key"); }
      });
      // A reader who rests on an openable picture for a moment is likely to open it: its level
      // is fetched and decoded meanwhile (not when the pointer merely crosses it, which would
      // put that work in the way of the next hovers).
      let intent = null;
      const hover = () => {
        describe(card.item);
        if (card.item.opens && intent === null) {
          intent = setTimeout(() => sheets(d.levels[card.item.opens].chunk), PREFETCH_AFTER_MS);
        }
      };
      const leave = () => { clearTimeout(intent); intent = null; };
      card.el.addEventListener("pointerenter", hover);
      card.el.addEventListener("focus", hover);
      card.el.addEventListener("pointerleave", leave);
      card.el.addEventListener("blur", leave);
    }
    return cards;
  }

  async function show(levelId, focus, how, focusAfter) {
    const level = d.levels[levelId], mine = ++ticket, big = focus !== null && focus !== undefined;
    const key = levelId + "/" + (big ? focus : "");
    here = {level: levelId, focus: big ? focus : null};
    pinned = false;
    setTrail();
    view.setState({level: levelId, focus: big ? level.items[focus].tensor : null, drawn: null, cell: null, note: null});
    // A level seen before comes back as it was drawn (going up costs no repainting).
    const kept = painted.get(key);
    // Ask for the pictures first: they load while the cards are laid out (which forces a layout).
    if (!kept) {
      const item = big ? level.items[focus] : null;
      sheets(item && item.whole ? item.whole.chunk : level.chunk);
    }
    if (kept) { painted.delete(key); painted.set(key, kept); }  // most recently seen last
    // A click is answered in the frame it happened in (the path changes, the old level dims);
    // building the new level's cards, which lays out the page, waits until that frame is painted.
    if (!kept && how) {
      stage.classList.add("elvit-dt-busy");
      await new Promise((resolve) => requestAnimationFrame(() => {
        const channel = new MessageChannel();
        channel.port1.onmessage = resolve;
        channel.port2.postMessage(0);
      }));
      if (mine !== ticket) return;
    }
    stage.classList.remove("elvit-dt-busy");
    const cards = kept || buildCards(level, focus, big);
    for (const card of kept || []) {
      if (card.picture) { card.picture.hideBox("note"); card.picture.hideBox("cursor"); card.note = null; }
    }
    stage.classList.toggle("elvit-dt-large", big);
    stage.replaceChildren(...cards.map((card) => card.el));
    about.replaceChildren(big ? elvit.t("{0}: one tensor, every channel.", level.title)
                              : elvit.t("{0}: hover a picture to see what it is.", level.title));
    idle();
    const target = cards[focusAfter !== undefined && focusAfter !== null && !big ? focusAfter : 0];
    if (how === "key" && target) target.el.focus();
    else if (how === "click") stage.focus({preventScroll: true});
    if (!kept) {
      const pictured = cards.filter((card) => card.picture);
      const chunks = [...new Set(pictured.map((card) => card.chunk))];
      let loaded;
      try {
        loaded = await Promise.all(chunks.map((chunk) => sheets(chunk).then((s) => [chunk, s])));
      } catch (error) {  // e.g. the site was copied without its _elvit folder
        chunks.forEach((chunk) => decoded.delete(chunk));
        if (mine === ticket) readout.replaceChildren(h("span", {class: "elvit-message"},
          elvit.t("{0}: this level's pictures are missing from the site.", error.message)));
        if (!how) throw error;  // the first drawing: the runtime shows the failure in the figure
        return;
      }
      if (mine !== ticket) return;  // the reader has moved on meanwhile
      const byChunk = Object.fromEntries(loaded);
      for (const card of pictured) {
        card.sheet = byChunk[card.chunk][card.item.tensor];
        M.paint(card.picture, card.sheet, card.layout, palette);
      }
      painted.set(key, cards);
      if (painted.size > 6) painted.delete(painted.keys().next().value);
    }
    view.setState({drawn: levelId});
    performance.mark("elvit-detail-drawn");
  }

  stage.addEventListener("click", (event) => {
    if (!event.target.closest(".elvit-dt-card")) up("click");
  });
  view.root.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && up("key")) event.preventDefault();
  });
  lensFor({kind: "tiles", cls: true});  // in place from the start: the first hover moves nothing
  view.root.append(trail.el, h("div", {class: "elvit-dt-body"}, stage,
                                h("div", {class: "elvit-dt-side"}, lensHolder, bar.el)), about, readout);
  await show(d.start, null);
});
