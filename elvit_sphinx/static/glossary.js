/* glossary.js: the book's glossary definitions, for figures that explain what they show.
 *
 * When Sphinx writes a page holding a view that lists this script among its libraries, it embeds
 * the first sentence of every glossary entry, with a link to it, as
 * <script type="application/json" id="elvit-glossary">{"term": {"text", "href"}}</script>
 * (elvit_sphinx/pages/glossary_tooltips.py). elvit.glossary(terms) returns the definitions found for
 * a list of terms, in order; a page without a glossary (a standalone figure, another project)
 * gets [] and the view shows its own fallback sentence.
 */
(function () {
  "use strict";
  const elvit = (window.elvit = window.elvit || {});
  let table = null;

  elvit.glossary = function (terms) {
    if (table === null) {
      const element = document.getElementById("elvit-glossary");
      table = element ? JSON.parse(element.textContent) : {};
    }
    const found = [];
    for (const term of terms) {
      const entry = table[term.toLowerCase()];
      if (entry) found.push({term: term, text: entry.text, href: entry.href});
    }
    return found;
  };
})();
