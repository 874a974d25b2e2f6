/* elvit-prediction: class probabilities, the top class highlighted (views/prediction.py).
 * State: {hovered: class label or null}. */
elvit.register("prediction", (view) => {
  const d = view.data, h = elvit.h;
  const probs = elvit.decode(d.probs), logits = elvit.decode(d.logits);
  const readout = elvit.readout();
  const describe = (i) => {
    if (i === null) {
      readout.replaceChildren(elvit.t("Hover a bar (or Tab to it) to read its numbers."));
    } else {
      readout.replaceChildren(h("b", null, d.labels[i]),
        elvit.t(": probability {0}, logit {1}", elvit.fmt(probs[i], 4), elvit.fmt(logits[i], 3)));
    }
    view.setState({hovered: i === null ? null : d.labels[i]});
  };
  const top = d.classes.indexOf(d.top);
  const chart = elvit.charts.bars({labels: d.labels, values: Array.from(probs), max: 1, highlight: top,
    title: elvit.t("Prediction: {0} ({1}%)", d.top_label, (100 * elvit.decode(d.top_prob)[0]).toFixed(1)),
    axisLabel: elvit.t("softmax probability"), format: (v) => v.toFixed(3), onHover: describe});
  describe(null);
  view.root.append(chart.el, readout);
});
