/* elvit-overview: the whole model as a diagram with focus+context (views/overview.py).
 * Rows: the model; below it, when opened, the encoder's blocks; below that one block's parts.
 * Click a box to open it, empty space to go up; Enter / Escape from the keyboard.
 * State: {level: "model" | "encoder" | "block", block, hovered: box id | null, note: id | null}. */
elvit.register("overview", (view) => {
  const d = view.data, h = elvit.h, s = elvit.focus.svg;
  const W = 760, TOP_H = 104, BLOCK_H = 46, PART_H = 92, GAP = 40;
  const readout = elvit.readout("elvit-overview-readout");
  const trail = elvit.focus.trail();
  const svg = s("svg", {class: "elvit-overview", role: "group", width: W, tabindex: -1,
                        "aria-label": elvit.t("The model; Tab to a box, Enter opens it, Escape goes up")});
  let level = d.start.level, block = d.start.block === null ? 0 : d.start.block;
  let pinned = null;
  const head = view.figure.id + "-arrowhead";  // ids must be unique in the page
  const probability = elvit.decode(d.predicted.prob)[0];

  /* Words of `text` in lines of at most `width` characters (at most `max` lines). */
  function wrap(text, width, max, separator) {
    const sep = separator || " ", lines = [];
    for (const word of text.split(sep)) {
      const last = lines.length - 1;
      if (last >= 0 && (lines[last] + sep + word).length <= width) lines[last] += sep + word;
      else lines.push(lines.length && sep === "." ? "." + word : word);
    }
    return lines.slice(0, max);
  }

  function describe(box, tensor) {
    const before = tensor ? elvit.focus.tensor(tensor, box.shape) : box.detail ? [box.detail] : [];
    readout.replaceChildren(...elvit.focus.describe(view, box, before));
  }

  function idle() {
    if (pinned) { describe(pinned.box, pinned.tensor); return; }
    readout.replaceChildren(elvit.t("Hover a box (or Tab to it) for what it does; click the encoder or " +
                                    "a block to open it, empty space to go back up."));
  }

  /* One box: a focusable group with its name, its tensor and a link to its chapter. */
  function drawBox(box, x, y, w, hgt, options) {
    const tensor = options.tensor;
    const group = s("g", {class: "elvit-ov-box" + (options.opens ? " elvit-ov-opens" : "") +
                                 (options.current ? " elvit-ov-current" : ""),
                          tabindex: 0, role: "button", "data-box": options.id,
                          "aria-label": options.opens ? elvit.t("{0} (Enter opens it)", box.label) : box.label});
    group.append(s("rect", {x: x, y: y, width: w, height: hgt, rx: 6}));
    const chars = Math.max(6, Math.floor((w - 10) / 6.2));
    let line = y + 17;
    for (const text of wrap(options.title || box.label, chars, hgt > 60 ? 3 : 1)) {
      group.append(s("text", {x: x + 6, y: line, class: "elvit-ov-label"}, text));
      line += 14;
    }
    if (tensor && hgt > 60) {
      for (const text of wrap(options.shortTensor || tensor, Math.floor((w - 10) / 5.6), 2, ".")) {
        group.append(s("text", {x: x + 6, y: line, class: "elvit-ov-tensor"}, text));
        line += 11;
      }
    }
    const shape = options.shape || box.shape || box.detail;
    if (shape) group.append(s("text", {x: x + 6, y: y + hgt - 8, class: "elvit-ov-shape"}, shape));
    const chapter = view.links[box.link];
    if (chapter && w > 50) {
      group.append(s("a", {href: chapter, class: "elvit-ov-link", "aria-label": elvit.t("Chapter: {0}", box.label)},
                     s("title", null, elvit.t("Read the chapter about {0}", box.label.toLowerCase())),
                     s("rect", {x: x + w - 19, y: y + 3, width: 16, height: 16, rx: 3}),
                     s("text", {x: x + w - 11, y: y + 15, "text-anchor": "middle"}, "↗")));
    }
    const show = () => { describe(box, tensor); view.setState({hovered: options.id}); };
    const hide = () => { idle(); view.setState({hovered: null}); };
    group.addEventListener("pointerenter", show);
    group.addEventListener("pointerleave", hide);
    group.addEventListener("focus", show);
    group.addEventListener("blur", hide);
    const act = (fromKeyboard) => {
      if (options.opens) { options.opens(fromKeyboard); return; }
      pinned = pinned && pinned.box === box && pinned.tensor === tensor ? null : {box: box, tensor: tensor};
      show();
    };
    group.addEventListener("click", (event) => {
      if (event.target.closest("a")) return;  // the chapter link navigates
      event.stopPropagation();
      act(false);
    });
    group.addEventListener("keydown", (event) => {
      if (event.target !== group || (event.key !== "Enter" && event.key !== " ")) return;
      event.preventDefault();
      act(true);
    });
    svg.append(group);
    return group;
  }

  function arrow(x1, y1, x2, y2) {
    svg.append(s("line", {x1: x1, y1: y1, x2: x2, y2: y2, class: "elvit-ov-arrow", "marker-end": `url(#${head})`}));
  }

  /* A marked region carrying one of the view's notes (built-in annotations). */
  function note(id, x, y, w, hgt, path) {
    const frame = s("rect", {x: x, y: y, width: w, height: hgt, class: "elvit-ov-note-frame", rx: 4});
    const spot = s("g", {class: "elvit-ov-note", tabindex: 0, "data-note": id, role: "note",
                         "aria-label": d.notes[id]},
                   path || null, s("rect", {x: x, y: y, width: w, height: hgt, class: "elvit-ov-note-hit"}),
                   s("circle", {cx: x + w - 6, cy: y + 6, r: 6, class: "elvit-ov-note-mark"}),
                   s("text", {x: x + w - 6, y: y + 9.5, "text-anchor": "middle", class: "elvit-ov-note-i"}, "i"),
                   frame);
    const show = () => { spot.classList.add("elvit-ov-note-on"); readout.replaceChildren(h("b", null, elvit.t("Note:")), " ", d.notes[id]); view.setState({note: id}); };
    const hide = () => { spot.classList.remove("elvit-ov-note-on"); idle(); view.setState({note: null}); };
    spot.addEventListener("pointerenter", show);
    spot.addEventListener("pointerleave", hide);
    spot.addEventListener("focus", show);
    spot.addEventListener("blur", hide);
    spot.addEventListener("click", (event) => event.stopPropagation());
    svg.append(spot);
  }

  function go(next, nextBlock, focusAfter) {
    level = next;
    if (nextBlock !== undefined && nextBlock !== null) block = nextBlock;
    pinned = null;
    draw();
    idle();
    const target = focusAfter && svg.querySelector(`[data-box="${focusAfter}"]`);
    if (target) target.focus();
    else if (svg.contains(document.activeElement) || document.activeElement === document.body) {
      svg.focus({preventScroll: true});  // the clicked box is gone: keep Escape working
    }
  }

  function up() {
    if (level === "block") { go("encoder", null, "block-" + block); return true; }
    if (level === "encoder") { go("model", null, "encoder"); return true; }
    return false;
  }

  function draw() {
    svg.replaceChildren(s("defs", null, s("marker", {id: head, viewBox: "0 0 8 8", refX: 7, refY: 4,
      markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse"}, s("path", {d: "M0,0 L8,4 L0,8 z"}))));
    const background = s("rect", {x: 0, y: 0, width: W, height: 10, class: "elvit-ov-background"});
    svg.append(background);

    // The model, always in view: the context of whatever is open below it.
    const n = d.top.length, bw = 94, gap = (W - n * bw) / (n - 1), y0 = 6;
    const x = (i) => i * (bw + gap);
    const encoderIndex = d.top.findIndex((b) => b.id === "encoder");
    d.top.forEach((box, i) => {
      const isEncoder = i === encoderIndex;
      drawBox(box, x(i), y0, bw, TOP_H, {
        id: box.id, tensor: box.tensor, current: isEncoder && level !== "model",
        shape: box.id === "prediction" ? `${box.shape} → ${d.predicted.label} ${(100 * probability).toFixed(1)}%` : null,
        opens: isEncoder ? (keys) => go("encoder", null, keys ? "block-0" : null) : null,
      });
      if (i) arrow(x(i) - gap + 2, y0 + TOP_H / 2, x(i) - 3, y0 + TOP_H / 2);
    });
    const after = (id) => x(d.top.findIndex((b) => b.id === id));
    note("cls", after("cls_position") - gap, y0 + TOP_H / 2 - 14, gap, 28);
    note("head", after("classifier") - gap, y0 + TOP_H / 2 - 14, gap, 28);
    let bottom = y0 + TOP_H;
    const blockBoxes = [];

    if (level !== "model") {
      // The encoder's blocks, in rows of at most 12, joined to the encoder box (focus+context).
      const perRow = Math.min(d.layers, 12), rows = Math.ceil(d.layers / perRow);
      const bgap = 6, bw2 = (W - (perRow - 1) * bgap) / perRow, top = bottom + GAP;
      const ex = x(encoderIndex);
      svg.append(s("path", {class: "elvit-ov-zoom", d: `M${ex},${bottom} L${ex + bw},${bottom} L${W},${top - 4} L0,${top - 4} Z`}));
      for (let i = 0; i < d.layers; i++) {
        const bx = (i % perRow) * (bw2 + bgap), by = top + Math.floor(i / perRow) * (BLOCK_H + 8);
        blockBoxes[i] = {x: bx, y: by, w: bw2};
        drawBox(d.block, bx, by, bw2, BLOCK_H, {
          id: "block-" + i, title: bw2 > 56 ? elvit.t("Block {0}", i) : String(i), shape: bw2 > 56 ? d.block.shape : null,
          tensor: `encoder.layer.${i}.output`, current: level === "block" && i === block,
          opens: (keys) => go("block", i, keys ? "part-0" : null),
        });
      }
      bottom = top + rows * (BLOCK_H + 8) - 8;
    }

    if (level === "block") {
      // The parts of one block, with the two residual connections drawn as bypasses.
      const k = d.parts.length, pgap = 22, pw = (W - 24 - (k - 1) * pgap) / k, top = bottom + GAP + 34;
      const opened = blockBoxes[block], joint = opened.y + BLOCK_H;
      svg.append(s("path", {class: "elvit-ov-zoom", d: `M${opened.x},${joint} L${opened.x + opened.w},${joint} L${W},${top - 38} L0,${top - 38} Z`}));
      const px = (i) => 24 + i * (pw + pgap), mid = top + PART_H / 2;
      arrow(0, mid, px(0) - 3, mid);
      d.parts.forEach((part, i) => {
        drawBox(part, px(i), top, pw, PART_H, {id: "part-" + i, tensor: `encoder.layer.${block}.${part.suffix}`,
                                                       shortTensor: part.suffix});
        if (i) arrow(px(i) - pgap + 2, mid, px(i) - 3, mid);
      });
      const res1 = d.parts.findIndex((p) => p.id === "residual_1"), res2 = d.parts.findIndex((p) => p.id === "residual_2");
      const lane = top - 20;
      const skip = (fromX, toX) => s("path", {class: "elvit-ov-skip", d: `M${fromX},${mid} L${fromX},${lane} L${toX},${lane} L${toX},${top - 3}`,
                                              "marker-end": `url(#${head})`});
      note("skip_1", 6, lane - 12, px(res1) + pw / 2 - 6 + 6, 24, skip(12, px(res1) + pw / 2));
      const from2 = px(res1) + pw + pgap / 2;
      note("skip_2", from2 - 6, lane - 12, px(res2) + pw / 2 - from2 + 12, 24, skip(from2, px(res2) + pw / 2));
      bottom = top + PART_H;
    }
    const height = bottom + 12;
    background.setAttribute("height", height);
    svg.setAttribute("viewBox", `0 0 ${W} ${height}`);
    svg.setAttribute("height", height);

    const steps = [{label: elvit.t("Model"), go: () => go("model")}];
    if (level !== "model") steps.push({label: elvit.t("Transformer encoder"), go: () => go("encoder")});
    if (level === "block") steps.push({label: elvit.t("Block {0}", block), go: null});
    trail.set(steps);
    view.setState({level: level, block: level === "block" ? block : null, hovered: null, note: null});
  }

  // Empty space is whatever is not a box or a note: the background, the zoom bands, arrows.
  svg.addEventListener("click", (event) => {
    if (!event.target.closest(".elvit-ov-box, .elvit-ov-note")) up();
  });
  view.root.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && up()) event.preventDefault();
  });
  draw();
  idle();
  view.root.append(trail.el, h("div", {class: "elvit-ov-frame"}, svg), readout);
});
