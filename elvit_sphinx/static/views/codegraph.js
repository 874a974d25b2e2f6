/* elvit-codegraph: the model's classes and the book's terms as a graph (views/codegraph.py).
 * Positions, label boxes, docstrings and highlighted source all come from Python; this script
 * draws them as SVG and answers hover, click and keys by toggling a few classes and filling
 * one panel, so every action stays well inside a frame.
 * State: {hovered: node id or null, open: node id or null}. */
elvit.register("codegraph", (view) => {
  const d = view.data, h = elvit.h, SVG = "http://www.w3.org/2000/svg";
  const nodes = d.nodes, fontFamily = 'ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace';
  const s = (tag, attrs, ...children) => {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
    el.append(...children);
    return el;
  };
  const root = document.documentElement.dataset.content_root || "";
  /* Each kind of edge in words: in the legend, as an edge's tooltip, and in a class's panel
   * before the classes it points to (whole phrases, for translators). */
  const KINDS = {
    inherits: {legend: elvit.t("inherits from"), edge: (a, b) => elvit.t("{0} inherits from {1}", a, b),
               panel: (chips) => elvit.tParts("inherits from {0}", chips)},
    instantiates: {legend: elvit.t("instantiates"), edge: (a, b) => elvit.t("{0} instantiates {1}", a, b),
                   panel: (chips) => elvit.tParts("instantiates {0}", chips)},
    calls: {legend: elvit.t("calls"), edge: (a, b) => elvit.t("{0} calls {1}", a, b),
            panel: (chips) => elvit.tParts("calls {0}", chips)},
    implemented_by: {legend: elvit.t("implemented by"), edge: (a, b) => elvit.t("{0} implemented by {1}", a, b)},
  };
  const BEND = {inherits: -0.18, instantiates: 0, calls: 0.18, implemented_by: 0};

  // One character of the label font must advance exactly d.char_width (the layout's unit):
  // measure the font the browser picked and size it accordingly.
  const probe = document.createElement("canvas").getContext("2d");
  probe.font = `100px ${fontFamily}`;
  const fontSize = 100 * d.char_width / (probe.measureText("M".repeat(20)).width / 20);

  // ------------------------------------------------------------------------ drawing
  const svg = s("svg", {viewBox: `0 0 ${d.width} ${d.height}`, width: d.width, class: "elvit-codegraph-svg",
                        role: "group", "aria-label": elvit.t("Class graph; arrow keys move between nodes, Enter opens one")});
  const defs = s("defs");
  for (const kind of d.edge_kinds) {
    defs.append(s("marker", {id: `${view.figure.id}-${kind}`, viewBox: "0 0 10 10", refX: 9, refY: 5,
                             markerWidth: 8, markerHeight: 8, markerUnits: "userSpaceOnUse", orient: "auto",
                             class: `elvit-cg-marker elvit-cg-${kind}`},
                  s("path", {d: kind === "implemented_by" ? "M1,5 a4,4 0 1,0 8,0 a4,4 0 1,0 -8,0" : "M0,0 L10,5 L0,10 z"})));
  }
  svg.append(defs);
  const edgeLayer = s("g", {class: "elvit-cg-edges"}), nodeLayer = s("g", {class: "elvit-cg-nodes"});
  svg.append(edgeLayer, nodeLayer);

  const incident = nodes.map(() => []);
  for (const [from, to, kind] of d.edges) {
    const a = nodes[from], b = nodes[to];
    const dx = b.x - a.x, dy = b.y - a.y, length = Math.hypot(dx, dy) || 1;
    const ux = dx / length, uy = dy / length, r = d.radius + 1.5;
    const x1 = a.x + ux * r, y1 = a.y + uy * r, x2 = b.x - ux * (r + 1), y2 = b.y - uy * (r + 1);
    const bend = BEND[kind] * length, cx = (x1 + x2) / 2 - uy * bend, cy = (y1 + y2) / 2 + ux * bend;
    const path = s("path", {d: `M${x1.toFixed(1)},${y1.toFixed(1)} Q${cx.toFixed(1)},${cy.toFixed(1)} ${x2.toFixed(1)},${y2.toFixed(1)}`,
                            class: `elvit-cg-edge elvit-cg-${kind}`, "marker-end": `url(#${view.figure.id}-${kind})`},
                   s("title", null, KINDS[kind].edge(a.label, b.label)));
    edgeLayer.append(path);
    incident[from].push([path, to]);
    incident[to].push([path, from]);
  }

  function nodeLabel(n) {
    if (n.kind === "concept") return elvit.t("{0}, term: {1}", n.label, n.doc);
    if (n.kind === "external") return elvit.t("{0}, external: {1}", n.label, n.doc);
    return elvit.t("{0}, class: {1}", n.label, n.doc);
  }
  const groups = nodes.map((n, i) => {
    const [x0, y0, x1, y1] = n.box;
    const text = s("text", {x: x0 + d.padding / 2, y: (y0 + y1) / 2, class: "elvit-cg-label",
                            "dominant-baseline": "central", "font-family": fontFamily,
                            "font-size": fontSize.toFixed(3)}, n.label);
    const marker = n.kind === "concept"
      ? s("rect", {x: n.x - d.radius, y: n.y - d.radius, width: 2 * d.radius, height: 2 * d.radius,
                   rx: 2, class: "elvit-cg-marker-shape"})
      : s("circle", {cx: n.x, cy: n.y, r: d.radius, class: "elvit-cg-marker-shape"});
    const g = s("g", {class: `elvit-cg-node elvit-cg-${n.kind}${n.used ? "" : " elvit-cg-unused"}`,
                      tabindex: i === 0 ? 0 : -1, role: "button", "data-elvit-node": n.id,
                      "aria-label": nodeLabel(n)},
                marker, s("rect", {x: x0, y: y0, width: x1 - x0, height: y1 - y0, rx: 3, class: "elvit-cg-label-box"}), text);
    g.addEventListener("pointerenter", () => hover(i));
    g.addEventListener("pointerleave", () => hover(null));
    g.addEventListener("focus", () => { cursor = i; hover(i); });
    g.addEventListener("click", () => open(i));
    nodeLayer.append(g);
    return g;
  });

  // ------------------------------------------------------------------------ reading
  const readout = elvit.readout("elvit-codegraph-readout");
  const idle = h("span", null, elvit.t("Hover a node (or Tab to the graph and use the arrow keys) to read what it is; " +
                                       "click it or press Enter to open it."));
  let hovered = null, lit = [];
  function describe(n) {
    const name = h("b", null, n.label);
    if (n.kind === "concept") return elvit.tParts("{0} (glossary term): {1}", name, n.doc);
    if (n.kind === "external") return elvit.tParts("{0} (base class from outside {1}): {2}", name, d.source.file, n.doc);
    return elvit.tParts("{0} (class, {1} lines {2}–{3}): {4}", name, d.source.file, n.lines[0], n.lines[1], n.doc);
  }
  function hover(i) {
    if (i === hovered) return;
    for (const el of lit) el.classList.remove("elvit-cg-lit");
    lit = [];
    hovered = i;
    if (i === null) { readout.replaceChildren(idle); view.setState({hovered: null}); return; }
    lit.push(groups[i]);
    for (const [path, other] of incident[i]) lit.push(path, groups[other]);
    for (const el of lit) el.classList.add("elvit-cg-lit");
    readout.replaceChildren(...describe(nodes[i]));
    view.setState({hovered: nodes[i].id});
  }

  // ------------------------------------------------------------------------ the panel
  const title = h("h4", {class: "elvit-codegraph-title"});
  const body = h("div", {class: "elvit-codegraph-body"});
  const close = h("button", {type: "button", class: "elvit-button elvit-codegraph-close",
                             "aria-label": elvit.t("Close (Escape)"), onclick: () => shut()}, elvit.t("× close"));
  // The panel keeps a fixed height, open or not, so that opening it never moves the page
  // below the figure (a reflow of a long chapter costs more than a frame).
  const content = h("section", {class: "elvit-codegraph-open", hidden: true, "aria-live": "polite"},
                    h("div", {class: "elvit-codegraph-panel-head"}, title, close), body);
  const hint = h("p", {class: "elvit-codegraph-hint"}, elvit.t("Click a node (or press Enter on it) to read its code here."));
  const panel = h("div", {class: "elvit-codegraph-panel"}, hint, content);
  let opened = null;
  const pick = (i) => h("button", {type: "button", class: "elvit-cg-chip", onclick: () => { focusNode(i); open(i); }},
                        nodes[i].label);
  const neighbours = (i, kind, outgoing) => d.edges.filter((e) => e[2] === kind && e[outgoing ? 0 : 1] === i)
    .map((e) => e[outgoing ? 1 : 0]);

  function classPanel(i, n) {
    const url = `${root}${d.source.page}#${n.anchor}`;
    const terms = neighbours(i, "implemented_by", false);
    const related = ["inherits", "instantiates", "calls"].map((kind) => [kind, neighbours(i, kind, true)])
      .filter(([, list]) => list.length);
    body.replaceChildren(
      h("p", {class: "elvit-codegraph-doc"}, n.doc),
      related.length ? h("p", null, ...related.flatMap(([kind, list]) => [...KINDS[kind].panel(list.map(pick)), " "])) : null,
      terms.length ? h("p", null, elvit.tParts("Implements {0}", terms.map(pick))) : null,
      h("p", null, h("a", {class: "elvit-codegraph-source-link", href: url},
                     elvit.t("{0} in the full source of {1}", n.label, d.source.module)), ` (${d.source.version || d.source.file})`));
    const code = h("div", {class: "elvit-codegraph-code"});
    code.innerHTML = n.source;  // Pygments HTML made at build time from the analysed file
    body.append(code);
    title.replaceChildren(elvit.t("class {0}", n.label),
                          h("small", null, elvit.t(" · {0}, lines {1}–{2}", d.source.file, n.lines[0], n.lines[1])));
  }

  function conceptPanel(i, n) {
    const glossary = view.links.glossary ? `${view.links.glossary}#${n.term_anchor}` : null;
    body.replaceChildren(
      h("p", {class: "elvit-codegraph-doc"}, n.doc, glossary ? [" ", h("a", {href: glossary}, elvit.t("Glossary entry"))] : null),
      h("p", null, elvit.tParts("Implemented by {0}. The code that shows it:", neighbours(i, "implemented_by", true).map(pick))),
      h("ul", {class: "elvit-codegraph-evidence"}, n.evidence.map((e) =>
        h("li", null, elvit.tParts("{0}, line {1} ({2}): {3}", e.class, e.line, e.how, h("code", null, e.code))))),
      n.more_evidence ? h("p", null, elvit.t("… and {0} more.", n.more_evidence)) : null);
    title.replaceChildren(elvit.t("term: {0}", n.label));
  }

  function open(i) {
    const n = nodes[i];
    if (n.kind === "class") classPanel(i, n);
    else if (n.kind === "concept") conceptPanel(i, n);
    else {
      body.replaceChildren(h("p", null, elvit.t("{0} Its source is not part of the analysed file.", n.doc)),
                           h("p", null, elvit.tParts("Subclasses here: {0}", neighbours(i, "inherits", false).map(pick))));
      title.replaceChildren(elvit.t("base class {0}", n.label));
    }
    if (opened !== null) groups[opened].classList.remove("elvit-cg-open");
    groups[i].classList.add("elvit-cg-open");
    opened = i;
    content.hidden = false;
    hint.hidden = true;
    content.scrollTop = 0;
    view.setState({open: n.id});
  }

  function shut() {
    if (opened === null) return;
    groups[opened].classList.remove("elvit-cg-open");
    const was = opened;
    opened = null;
    content.hidden = true;
    hint.hidden = false;
    view.setState({open: null});
    if (panel.contains(document.activeElement)) focusNode(was);
  }

  // ------------------------------------------------------------------------ keys
  let cursor = 0;
  function focusNode(i) {
    groups[cursor].setAttribute("tabindex", -1);
    cursor = i;
    groups[i].setAttribute("tabindex", 0);
    groups[i].focus();
  }
  /* The nearest node in a direction (SVG y grows downwards), off-axis distance counting double. */
  function step(from, dx, dy) {
    let best = null, bestCost = Infinity;
    nodes.forEach((n, i) => {
      const ax = n.x - nodes[from].x, ay = n.y - nodes[from].y;
      const along = ax * dx + ay * dy, across = Math.abs(ax * dy - ay * dx);
      if (i === from || along <= 0) return;
      const cost = along + 2 * across;
      if (cost < bestCost) { bestCost = cost; best = i; }
    });
    return best;
  }
  const MOVES = {ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1]};
  svg.addEventListener("keydown", (event) => {
    if (MOVES[event.key]) {
      const next = step(cursor, ...MOVES[event.key]);
      if (next !== null) focusNode(next);
    } else if (event.key === "Enter" || event.key === " ") {
      open(cursor);
    } else return;
    event.preventDefault();
  });
  view.figure.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && opened !== null) { shut(); event.preventDefault(); }
  });

  // ------------------------------------------------------------------------ legend
  const sample = (kind) => s("svg", {width: 34, height: 12, class: "elvit-codegraph-svg", "aria-hidden": "true"},
    s("path", {d: "M2,6 L30,6", class: `elvit-cg-edge elvit-cg-${kind}`, "marker-end": `url(#${view.figure.id}-${kind})`}));
  const dot = (kind, extra) => s("svg", {width: 16, height: 16, class: "elvit-codegraph-svg", "aria-hidden": "true"},
    s("g", {class: `elvit-cg-node elvit-cg-${kind} ${extra || ""}`}, kind === "concept"
      ? s("rect", {x: 2, y: 2, width: 12, height: 12, rx: 2, class: "elvit-cg-marker-shape"})
      : s("circle", {cx: 8, cy: 8, r: 6, class: "elvit-cg-marker-shape"})));
  const legend = h("div", {class: "elvit-codegraph-legend"},
    h("span", null, dot("class"), " ", elvit.t("class")),
    h("span", null, dot("class", "elvit-cg-unused"), " ", elvit.t("class {0} does not use", d.root)),
    h("span", null, dot("external"), " ", elvit.t("base class from elsewhere")),
    h("span", null, dot("concept"), " ", elvit.t("glossary term")),
    ...d.edge_kinds.map((kind) => h("span", null, sample(kind), " ", KINDS[kind].legend)));

  readout.replaceChildren(idle);
  view.setState({hovered: null, open: null});
  view.root.append(legend, h("div", {class: "elvit-codegraph-frame"}, svg), readout, panel);
});
