/* Embed every elvit view on the page from its inline JSON (no fetch: works from file://).
 * The figure gets data-elvit-ready="true" once BokehJS has rendered it, or "error". */
(function () {
  "use strict";
  function embedAll() {
    document.querySelectorAll("script.elvit-item").forEach(function (script) {
      var figure = script.closest("[data-elvit-view]");
      try {
        var item = JSON.parse(script.textContent);
        Promise.resolve(Bokeh.embed.embed_item(item, script.dataset.target)).then(
          function () { figure.dataset.elvitReady = "true"; },
          function (err) { figure.dataset.elvitReady = "error"; console.error("elvit:", err); }
        );
      } catch (err) {
        figure.dataset.elvitReady = "error";
        console.error("elvit: cannot embed view", err);
      }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", embedAll);
  } else {
    embedAll();
  }
})();
