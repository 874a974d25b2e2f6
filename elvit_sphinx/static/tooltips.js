/* Glossary tooltips (glossary_tooltips.py writes the hidden <span role="tooltip"> elements).
 * Hover, keyboard focus or a tap on a term link shows its definition; Escape, moving away or a
 * second tap elsewhere hides it. A first tap on a touch screen shows the definition instead of
 * following the link; a second tap follows it. Positioned by Floating UI (vendor/). */
(function () {
  "use strict";
  const PREFIX = "elvit-term-";

  function setup() {
    const links = [];
    document.querySelectorAll("a.reference.internal").forEach((link) => {
      if (!link.querySelector(".std-term")) return;
      const anchor = (link.getAttribute("href") || "").split("#")[1];
      const tip = anchor && document.getElementById(PREFIX + anchor);
      if (!tip) return;
      link.setAttribute("aria-describedby", tip.id);
      link.removeAttribute("title");  // the native tooltip would show the same text twice
      links.push([link, tip]);
    });
    if (!links.length) return;
    let shown = null;

    function place(link, tip) {
      const {computePosition, offset, flip, shift} = window.FloatingUIDOM;
      computePosition(link, tip, {placement: "top", strategy: "fixed",
                                  middleware: [offset(6), flip(), shift({padding: 8})]})
        .then(({x, y}) => { tip.style.left = x + "px"; tip.style.top = y + "px"; });
    }
    function show(link, tip) {
      if (shown && shown[1] !== tip) hide();
      document.body.append(tip);  // out of any clipped container; still the same id
      tip.hidden = false;
      tip.classList.add("elvit-tooltip-shown");
      shown = [link, tip];
      place(link, tip);
    }
    function hide() {
      if (!shown) return;
      shown[1].hidden = true;
      shown[1].classList.remove("elvit-tooltip-shown");
      shown = null;
    }
    links.forEach(([link, tip]) => {
      // Whether the last pointer was a finger, and whether this tooltip was already up when it
      // came down: a tap's emulated focus and mouse events show it before the click arrives,
      // and an emulated mouseleave may follow the click (it must not hide it).
      let touched = false, wasShown = false;
      link.addEventListener("pointerenter", (event) => { touched = event.pointerType === "touch"; });
      link.addEventListener("mouseenter", () => show(link, tip));
      link.addEventListener("mouseleave", () => { if (!touched) hide(); });
      link.addEventListener("focus", () => show(link, tip));
      link.addEventListener("blur", () => { if (!touched) hide(); });
      link.addEventListener("pointerdown", (event) => {
        touched = event.pointerType === "touch";
        wasShown = Boolean(shown && shown[1] === tip);
      });
      link.addEventListener("click", (event) => {
        if (touched && !wasShown) {
          event.preventDefault();  // first tap: read the definition; second tap: follow the link
          show(link, tip);
        }
      });
    });
    document.addEventListener("keydown", (event) => { if (event.key === "Escape") hide(); });
    document.addEventListener("pointerdown", (event) => {
      if (shown && !shown[0].contains(event.target)) hide();
    });
    window.addEventListener("scroll", () => { if (shown) place(shown[0], shown[1]); }, {passive: true});
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
