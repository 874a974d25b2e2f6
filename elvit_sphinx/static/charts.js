/* charts.js: the book's SVG charts, drawn with d3 (vendor/d3-*.min.js, loaded before this file
 * on pages whose views need charts). Colours come from elvit.css, so charts follow the theme.
 *
 *   elvit.charts.bars({...})  horizontal bars with a value axis, hover/focus to inspect a bar
 *   elvit.charts.plot({...})  x/y axes with lines, points and a marker
 */
(function () {
  "use strict";
  const elvit = (window.elvit = window.elvit || {});
  const charts = (elvit.charts = {});

  /* Horizontal bars, one row per label, in the order given.
   * Options: labels, values, [width=520], [rowHeight=22], [max] (default: largest value),
   * [highlight] (index drawn in the accent colour), [axisLabel], [title], [format(value) for
   * the value written at the end of each bar], [onHover(index | null)]. Rows are focusable:
   * focus shows a row as hover does. */
  charts.bars = function (options) {
    const labels = options.labels, n = labels.length;
    const width = options.width || 520, rowHeight = options.rowHeight || 22;
    const margin = {top: options.title ? 22 : 6, right: 64, bottom: 34, left: 110};
    const height = margin.top + margin.bottom + n * rowHeight;
    const svg = d3.create("svg").attr("class", "elvit-chart").attr("width", width)
      .attr("height", height).attr("viewBox", [0, 0, width, height]);
    const title = svg.append("text").attr("x", 0).attr("y", 14).attr("font-weight", 600)
      .text(options.title || "");
    const x = d3.scaleLinear().range([margin.left, width - margin.right]);
    const y = d3.scaleBand().domain(d3.range(n)).range([margin.top, height - margin.bottom]).padding(0.18);
    const axis = svg.append("g").attr("transform", `translate(0,${height - margin.bottom})`);
    svg.append("text").attr("x", (margin.left + width - margin.right) / 2).attr("y", height - 4)
      .attr("text-anchor", "middle").text(options.axisLabel || "");
    const rows = svg.append("g").selectAll("g").data(d3.range(n)).join("g")
      .attr("class", "elvit-bar-row").attr("tabindex", 0);
    rows.append("rect").attr("x", 0).attr("width", width).attr("y", (i) => y(i) - 2)
      .attr("height", y.bandwidth() + 4).attr("fill", "transparent");
    const bars = rows.append("rect").attr("class", "elvit-bar").attr("x", margin.left)
      .attr("y", (i) => y(i)).attr("height", y.bandwidth());
    const names = rows.append("text").attr("x", margin.left - 6).attr("y", (i) => y(i) + y.bandwidth() / 2)
      .attr("dy", "0.35em").attr("text-anchor", "end");
    const ends = rows.append("text").attr("y", (i) => y(i) + y.bandwidth() / 2).attr("dy", "0.35em");
    let hovered = null;
    function hover(i) {
      hovered = i;
      bars.classed("elvit-hover", (j) => j === i);
      if (options.onHover) options.onHover(i);
    }
    rows.on("pointerenter focus", (event, i) => hover(i));
    rows.on("pointerleave blur", (event, i) => { if (hovered === i) hover(null); });
    const format = options.format || ((v) => v.toFixed(3));

    function update(values, highlight, newLabels, newTitle) {
      const top = options.max !== undefined ? options.max : Math.max(d3.max(values), 1e-12);
      x.domain([0, top]);
      axis.call(d3.axisBottom(x).ticks(Math.max(2, Math.floor((width - margin.left - margin.right) / 70))));
      bars.attr("width", (i) => Math.max(0, x(Math.max(values[i], 0)) - margin.left))
        .classed("elvit-top", (i) => i === highlight);
      names.text((i) => (newLabels || labels)[i]);
      ends.attr("x", (i) => x(Math.max(values[i], 0)) + 4).text((i) => format(values[i]));
      if (newTitle !== undefined) title.text(newTitle);
    }
    update(options.values, options.highlight);
    return {el: svg.node(), update: update, hover: hover, rows: rows};
  };

  /* Axes with lines, points and a marker.
   * Options: [width=520], [height=300], xDomain, yDomain, [xLabel], [yLabel], [title],
   * [xTickValues], [xTickFormat(value)].
   * Returns {el, x, y, line(xs, ys, className) → {set(xs, ys)}, area(xs, lows, highs, className),
   * vband(x0, x1, className) → {set(x0, x1)}, points(xs, ys), marker(x, y)}. */
  charts.plot = function (options) {
    const width = options.width || 520, height = options.height || 300;
    const margin = {top: options.title ? 24 : 8, right: 16, bottom: 40, left: 52};
    const svg = d3.create("svg").attr("class", "elvit-chart").attr("width", width)
      .attr("height", height).attr("viewBox", [0, 0, width, height]);
    if (options.title) svg.append("text").attr("x", 0).attr("y", 14).attr("font-weight", 600).text(options.title);
    const x = d3.scaleLinear().domain(options.xDomain).range([margin.left, width - margin.right]);
    const y = d3.scaleLinear().domain(options.yDomain).range([height - margin.bottom, margin.top]);
    const xAxis = d3.axisBottom(x).ticks(8);
    if (options.xTickValues) xAxis.tickValues(options.xTickValues);
    if (options.xTickFormat) xAxis.tickFormat(options.xTickFormat);
    svg.append("g").attr("transform", `translate(0,${height - margin.bottom})`).call(xAxis);
    svg.append("g").attr("transform", `translate(${margin.left},0)`).call(d3.axisLeft(y).ticks(6));
    svg.append("text").attr("x", (margin.left + width - margin.right) / 2).attr("y", height - 6)
      .attr("text-anchor", "middle").text(options.xLabel || "");
    svg.append("text").attr("transform", `translate(12,${(margin.top + height - margin.bottom) / 2}) rotate(-90)`)
      .attr("text-anchor", "middle").text(options.yLabel || "");
    const clip = "elvit-clip-" + Math.random().toString(36).slice(2);
    svg.append("clipPath").attr("id", clip).append("rect").attr("x", margin.left).attr("y", margin.top)
      .attr("width", width - margin.left - margin.right).attr("height", height - margin.top - margin.bottom);
    const layer = svg.append("g").attr("clip-path", `url(#${clip})`);
    const pointLayer = layer.append("g");
    const markerEl = layer.append("circle").attr("class", "elvit-marker").attr("r", 6).attr("visibility", "hidden");
    return {
      el: svg.node(), x: x, y: y,
      line(xs, ys, className) {
        const draw = (xv, yv) => d3.line().x((i) => x(xv[i])).y((i) => y(yv[i]))(d3.range(xv.length));
        const path = layer.insert("path", ":first-child").attr("class", className || "elvit-line").attr("d", draw(xs, ys));
        return {el: path.node(), set: (xv, yv) => path.attr("d", draw(xv, yv))};
      },
      area(xs, lows, highs, className) {
        const draw = d3.area().x((i) => x(xs[i])).y0((i) => y(lows[i])).y1((i) => y(highs[i]));
        return layer.insert("path", ":first-child").attr("class", className || "elvit-area")
          .attr("d", draw(d3.range(xs.length))).node();
      },
      vband(x0, x1, className) {
        const rect = layer.insert("rect", ":first-child").attr("class", className || "elvit-band")
          .attr("y", margin.top).attr("height", height - margin.top - margin.bottom);
        const set = (a, b) => rect.attr("x", x(a)).attr("width", Math.max(1, x(b) - x(a)));
        set(x0, x1);
        return {el: rect.node(), set: set};
      },
      points(xs, ys) {
        pointLayer.selectAll("circle").data(d3.range(xs.length)).join("circle").attr("class", "elvit-dot")
          .attr("r", 2.5).attr("cx", (i) => x(xs[i])).attr("cy", (i) => y(ys[i]));
      },
      marker(mx, my) {
        markerEl.attr("visibility", "visible").attr("cx", x(mx)).attr("cy", y(my));
      },
    };
  };
})();

/* --- Pointer position in data coordinates (appended for the GELU view) -----------------------
 * plot.pointer(event) gives the data coordinates [x, y] of a pointer event over the chart. */
(function () {
  "use strict";
  const charts = window.elvit.charts, basePlot = charts.plot;
  charts.plot = function (options) {
    const plot = basePlot(options);
    plot.pointer = function (event) {
      const [px, py] = d3.pointer(event, plot.el);
      return [plot.x.invert(px), plot.y.invert(py)];
    };
    return plot;
  };
})();
