/* Keep the book's formulas working offline (see README.md in this folder).
 *
 * MathJax's context menu saves a reader's choices in localStorage under one key, and browsers
 * share that storage between all pages opened from file://. Some choices make MathJax load
 * components this book does not ship (the accessibility explorer and collapsible math need
 * a11y/*.js and speech-rule files that browsers refuse to read from file://; the CHTML renderer
 * needs its web fonts). When such a load fails, MathJax typesets no formula at all. So, before
 * MathJax starts, drop those saved choices and keep the rest.
 */
(function () {
  "use strict";
  var KEY = "MathJax-Menu-Settings";
  var NEEDS_MISSING_FILES = ["explorer", "collapsible", "autocollapse"];
  try {
    var raw = window.localStorage && window.localStorage.getItem(KEY);
    if (!raw) {
      return;
    }
    var settings = JSON.parse(raw);
    var changed = false;
    NEEDS_MISSING_FILES.forEach(function (name) {
      if (settings[name]) {
        delete settings[name];
        changed = true;
      }
    });
    if (settings.renderer && settings.renderer !== "SVG") {
      delete settings.renderer;
      changed = true;
    }
    if (changed) {
      window.localStorage.setItem(KEY, JSON.stringify(settings));
    }
  } catch (error) {
    // Storage disabled or a malformed value: MathJax copes with both on its own.
  }
})();
