/* elvit-annotations: one tensor as a matrix heatmap with the author's notes on regions of it
 * (views/annotations.py documents the directive). State: {region: index or null, cell: {row,
 * col, code} or null}. */
elvit.register("annotations", (view) => {
  const d = view.data, h = elvit.h;
  const WIDTH = 740, HEIGHT = 520;
  const fit = Math.min(WIDTH / d.cols, HEIGHT / d.rows);
  const scale = fit >= 1 ? Math.min(40, Math.floor(fit)) : fit;
  /* The axes as annotations.axes (Python) names them, in the reader's language: the title names
   * all of an axis's rows or columns, the readout one of them by its number; a token also says
   * which patch it is. */
  const AXES = {
    "token": [elvit.t("tokens"), (i) => (isCls(i) ? elvit.t("token {0} (CLS)", i)
      : elvit.t("token {0} (patch {1}: row {2}, col {3})", i, ...patchOf(i)))],
    "query token": [elvit.t("query tokens"), (i) => (isCls(i) ? elvit.t("query token {0} (CLS)", i)
      : elvit.t("query token {0} (patch {1}: row {2}, col {3})", i, ...patchOf(i)))],
    "key token": [elvit.t("key tokens"), (i) => (isCls(i) ? elvit.t("key token {0} (CLS)", i)
      : elvit.t("key token {0} (patch {1}: row {2}, col {3})", i, ...patchOf(i)))],
    "channel": [elvit.t("channels"), (i) => elvit.t("channel {0}", i)],
    "class": [elvit.t("classes"), (i) => elvit.t("class {0}", i)],
    "pixel row": [elvit.t("pixel rows"), (i) => elvit.t("pixel row {0}", i)],
    "pixel column": [elvit.t("pixel columns"), (i) => elvit.t("pixel column {0}", i)],
    "row": [elvit.t("rows"), (i) => elvit.t("row {0}", i)],
    "column": [elvit.t("columns"), (i) => elvit.t("column {0}", i)],
  };
  const isCls = (i) => d.cls && i === 0;
  function patchOf(i) {  // [patch, row, column] of token i
    const p = d.cls ? i - 1 : i;
    return [p, Math.floor(p / d.grid), p % d.grid];
  }
  const axisAll = (axis) => (AXES[axis] ? AXES[axis][0] : axis);
  const axisAt = (axis, i) => (AXES[axis] ? AXES[axis][1](i) : `${axis} ${i}`);

  function title() {
    const what = d.head !== null ? elvit.t("{0}, head {1} ({2})", d.tensor, d.head, d.shape) : `${d.tensor} (${d.shape})`;
    return what + (d.row_axis ? " · " + elvit.t("rows: {0}", axisAll(d.row_axis)) : "") +
           " · " + elvit.t("columns: {0}", axisAll(d.col_axis));
  }

  const picture = new elvit.Picture({cols: d.cols, rows: d.rows, width: Math.max(1, Math.round(d.cols * scale)) + 2,  // + its border
    className: scale < 1 ? "elvit-dt-smooth" : "", focusable: true,
    title: title(), label: elvit.t("{0} as a heatmap; arrow keys move over its cells", d.tensor)});
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


  function showRegion(index) {
    if (index === shown) return;
    shown = index;
    items.forEach((item, i) => item.classList.toggle("elvit-an-on", i === index));
    if (index === null) {
      picture.hideBox("region");
      note.replaceChildren(d.regions.length ? elvit.t("Hover the picture or a note below: the note's region is framed.")
                                            : elvit.t("This figure has no notes."));
    } else {
      const r = d.regions[index];
      picture.box("region", r.c0, r.r0, r.c1 - r.c0 + 1, r.r1 - r.r0 + 1, "elvit-an-box");
      note.replaceChildren(h("b", null, `${regionText(r)}: `), r.text);
    }
    view.setState({region: index});
  }

  function regionText(r) {
    const span = (a, b) => (a === b ? `${a}` : `${a}–${b}`);
    return elvit.t("rows {0}, columns {1}", span(r.r0, r.r1), span(r.c0, r.c1));
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
    const at = d.row_axis ? `${axisAt(d.row_axis, cell.row)}, ${axisAt(d.col_axis, cell.col)}`
                          : axisAt(d.col_axis, cell.col);
    if (d.rgb) {
      readout.replaceChildren(at);
      view.setState({cell: {row: cell.row, col: cell.col}});
    } else {
      const code = codes[cell.row * d.cols + cell.col];
      const value = lo + (code / 255) * (hi - lo);
      readout.replaceChildren(...elvit.tParts("{0}: value {1}", at,
                                              h("b", null, elvit.mosaic.formatApprox(value, (hi - lo) / 510))));
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
  readout.replaceChildren(elvit.t("Hover a cell to read its value."));
  showRegion(null);
  view.root.append(picture.el, note, readout, items.length ? h("ol", {class: "elvit-an-list"}, items) : null);
});
