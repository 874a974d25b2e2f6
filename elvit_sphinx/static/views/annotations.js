/* elvit-annotations: one tensor as a matrix heatmap with the author's notes on regions of it
 * (views/annotations.py documents the directive). State: {region: index or null, cell: {row,
 * col, code} or null}. */
elvit.register("annotations", (view) => {
  const d = view.data, h = elvit.h;
  const WIDTH = 740, HEIGHT = 520;
  const fit = Math.min(WIDTH / d.cols, HEIGHT / d.rows);
  const scale = fit >= 1 ? Math.min(40, Math.floor(fit)) : fit;
  const picture = new elvit.Picture({cols: d.cols, rows: d.rows, width: Math.max(1, Math.round(d.cols * scale)) + 2,  // + its border
    className: scale < 1 ? "elvit-dt-smooth" : "", focusable: true,
    title: `${d.tensor}${d.head !== null ? `, head ${d.head}` : ""} (${d.shape})` +
           (d.row_axis ? ` · rows: ${d.row_axis}s` : "") + ` · columns: ${d.col_axis}s`,
    label: `${d.tensor} as a heatmap; arrow keys move over its cells`});
  let codes = null, lo = 0, hi = 0;
  if (d.rgb) {
    picture.drawRGB(elvit.decode(d.rgb));
  } else {
    codes = elvit.decode(d.codes);
    lo = elvit.decode(d.lo)[0]; hi = elvit.decode(d.hi)[0];
    picture.drawCodes(codes, 0, elvit.decode(d.palette));
  }
  const note = elvit.readout("elvit-an-note");
  const readout = elvit.readout();
  let shown;  // undefined until the first call draws the initial note

  function token(index) {
    if (d.row_axis !== "token" && d.row_axis !== "query token" && d.col_axis !== "key token") return "";
    if (d.cls && index === 0) return " (CLS)";
    const p = d.cls ? index - 1 : index;
    return ` (patch ${p}: row ${Math.floor(p / d.grid)}, col ${p % d.grid})`;
  }

  function showRegion(index) {
    if (index === shown) return;
    shown = index;
    items.forEach((item, i) => item.classList.toggle("elvit-an-on", i === index));
    if (index === null) {
      picture.hideBox("region");
      note.replaceChildren(d.regions.length ? "Hover the picture or a note below: the note's region is framed."
                                            : "This figure has no notes.");
    } else {
      const r = d.regions[index];
      picture.box("region", r.c0, r.r0, r.c1 - r.c0 + 1, r.r1 - r.r0 + 1, "elvit-an-box");
      note.replaceChildren(h("b", null, `${regionText(r)}: `), r.text);
    }
    view.setState({region: index});
  }

  function regionText(r) {
    const span = (a, b) => (a === b ? `${a}` : `${a}–${b}`);
    return `rows ${span(r.r0, r.r1)}, columns ${span(r.c0, r.c1)}`;
  }

  function regionAt(row, col) {
    let best = null, area = Infinity;
    d.regions.forEach((r, i) => {
      const size = (r.r1 - r.r0 + 1) * (r.c1 - r.c0 + 1);
      if (row >= r.r0 && row <= r.r1 && col >= r.c0 && col <= r.c1 && size < area) { best = i; area = size; }
    });
    return best;
  }

  function showCell(cell) {
    const at = `${d.row_axis ? `${d.row_axis} ${cell.row}${token(cell.row)}, ` : ""}` +
               `${d.col_axis} ${cell.col}${d.col_axis === "key token" ? token(cell.col) : ""}`;
    if (d.rgb) {
      readout.replaceChildren(at);
      view.setState({cell: {row: cell.row, col: cell.col}});
    } else {
      const code = codes[cell.row * d.cols + cell.col];
      const value = lo + (code / 255) * (hi - lo);
      readout.replaceChildren(`${at}: value `, h("b", null, elvit.mosaic.formatApprox(value, (hi - lo) / 510)));
      view.setState({cell: {row: cell.row, col: cell.col, code: code}});
    }
    picture.box("cell", cell.col, cell.row, 1, 1, "elvit-box-soft");
    showRegion(regionAt(cell.row, cell.col));
  }

  picture.onCells((cell) => showCell(cell));
  picture.canvas.addEventListener("pointerleave", () => showRegion(null));
  const items = d.regions.map((r, i) => {
    const item = h("li", {tabindex: 0, class: "elvit-an-item", "data-region": i},
                   h("span", {class: "elvit-an-where"}, regionText(r)), " — ", r.text);
    item.addEventListener("pointerenter", () => showRegion(i));
    item.addEventListener("focus", () => showRegion(i));
    item.addEventListener("pointerleave", () => showRegion(null));
    item.addEventListener("blur", () => showRegion(null));
    return item;
  });
  readout.replaceChildren("Hover a cell to read its value.");
  showRegion(null);
  view.root.append(picture.el, note, readout, items.length ? h("ol", {class: "elvit-an-list"}, items) : null);
});
