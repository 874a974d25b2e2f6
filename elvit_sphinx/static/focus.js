/* focus.js: focus+context navigation shared by the whole-model views (overview, detail).
 *
 *   elvit.focus.trail()                 the path from the model to the level shown, each step
 *                                       clickable ("Model › Transformer encoder › Block 3")
 *   elvit.focus.describe(view, part)    readout nodes for one part of the model: its name, the
 *                                       glossary's definition (glossary.js) or the view's own
 *                                       fallback sentence, and links to the glossary entry and
 *                                       to the chapter that explains it (view.links)
 *   elvit.focus.svg(tag, attrs, ...)    an SVG element (elvit.h for SVG)
 *
 * Loaded before elvit.js (as a library of the views): it uses elvit.h only when called.
 */
(function () {
  "use strict";
  const elvit = (window.elvit = window.elvit || {});
  const focus = (elvit.focus = {});
  const SVG = "http://www.w3.org/2000/svg";

  focus.svg = function (tag, attrs, ...children) {
    const el = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else el.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  };

  /* steps: [{label, go}] from the top; every step but the last is a button calling go(). */
  focus.trail = function () {
    const nav = elvit.h("nav", {class: "elvit-trail", "aria-label": elvit.t("Where you are in the model")});
    function set(steps) {
      nav.replaceChildren();
      steps.forEach((step, i) => {
        if (i) nav.append(elvit.h("span", {class: "elvit-trail-sep", "aria-hidden": "true"}, " › "));
        if (i < steps.length - 1) {
          nav.append(elvit.h("button", {type: "button", class: "elvit-trail-step", onclick: step.go}, step.label));
        } else {
          nav.append(elvit.h("span", {class: "elvit-trail-here", "aria-current": "location"}, step.label));
        }
      });
    }
    return {el: nav, set: set};
  };

  /* part: {label, terms, fallback, link} (views/model_map.part_info); before: nodes placed
   * after the name (e.g. the tensor and its shape). */
  focus.describe = function (view, part, before) {
    const h = elvit.h;
    const found = elvit.glossary ? elvit.glossary(part.terms) : [];
    const nodes = [h("b", null, part.label)];
    if (before) nodes.push(" · ", ...before);
    nodes.push(" — ", found.length ? found.map((d) => d.text).join(" ") : part.fallback);
    const links = [];
    if (found.length) links.push(h("a", {href: found[0].href, class: "elvit-glossary-link"}, elvit.t("glossary")));
    const chapter = view.links[part.link];
    if (chapter) links.push(h("a", {href: chapter, class: "elvit-chapter-link"}, elvit.t("chapter ↗")));
    if (links.length) nodes.push(" (", ...links.flatMap((a, i) => (i ? [" · ", a] : [a])), ")");
    return nodes;
  };

  /* The tensor's name in monospace and its shape. */
  focus.tensor = function (name, shape) {
    return [elvit.h("code", {class: "elvit-mono"}, name), " " + shape];
  };
})();
