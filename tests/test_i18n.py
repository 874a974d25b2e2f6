"""The figures' words stay translatable: no visible text outside elvit.t / elvit.tParts, every
script's messages in elvit.pot, catalogs that fit the messages. (The translated build itself, in
Chromium, is tests/test_build.py::test_translated_build_shows_translated_figures.)"""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po
from untranslated import untranslated

from elvit_sphinx.pages.assets import STATIC_DIR
from elvit_sphinx.pages.i18n import script_messages
from elvit_sphinx.pages.js_source import messages

ROOT = Path(__file__).parent.parent
SCRIPTS = sorted(path for path in STATIC_DIR.rglob("*.js")
                 if "vendor" not in path.relative_to(STATIC_DIR).parts)
PLACEHOLDER = re.compile(r"\{(\d+)\}")

#: Literal text a reader sees that is the same in every language, or a call the guard cannot
#: read but that is right, with the reason. Keep it short: most words belong in elvit.t(...).
ALLOWED = {
    "GELU(x)": "a formula (views/gelu.js, the y axis): the function's name applied to x",
    "elvit.t(message)": "elvit.tParts (elvit.js) hands its caller's message on to elvit.t",
}


def test_every_visible_string_goes_through_elvit_t():
    problems, needed = [], set()
    for path in SCRIPTS:
        for finding in untranslated(path.read_text(encoding="utf-8")):
            if finding.text.strip() in ALLOWED:
                needed.add(finding.text.strip())
            else:
                problems.append(f"{path.relative_to(STATIC_DIR)}:{finding}")
    assert not problems, ("Text a reader would see untranslated: write it as elvit.t(\"...\", values) or "
                          "elvit.tParts(...) (or, if it is the same in every language, add it to ALLOWED "
                          "with the reason):\n" + "\n".join(problems))
    assert needed == set(ALLOWED), f"ALLOWED entries no script needs any more: {set(ALLOWED) - needed}"


BAD = """\
elvit.register("bad", (view) => {
  const h = elvit.h, n = 3;
  const picture = new elvit.Picture({cols: 2, rows: 2, width: 9, title: "Input image",
    label: `Grid of ${n} by ${n} patches`});
  view.root.append(h("p", null, "Hover a patch."),
                   h("button", {type: "button", "aria-label": "Close"}, "×"));
  const status = h("span");
  status.textContent = n > 2 ? "Too many" : "Ready";
  picture.setTitle("Patch " + n);
  status.setAttribute("title", "More about it");
  const note = "This model is untrained.";
  const menu = elvit.select({label: elvit.t("Block"), options: [[0, `block ${n}`]]});
  const message = elvit.t(`Patch ${n}`);
  const alias = elvit.t;
  const fromVariable = elvit.t(note);
  view.fail(elvit.t("Could not load {0}", "the numbers"));
  picture.setTitle(`${n === 0 ? "CLS" : "patch"}: ${n}`);
  view.root.append(h("p", null, `${n} of ${n}`), h("p", null, `lr = ${n}, the rate`));
});
"""

GOOD = """\
elvit.register("good", (view) => {
  const h = elvit.h, n = 3, d = view.data;
  const picture = new elvit.Picture({cols: 2, rows: 2, width: 9, title: elvit.t("Input image"),
    label: elvit.t("Grid of {0} by {0} patches", n), className: "elvit-attention-q elvit-wide"});
  const readout = elvit.readout("elvit-readout-tall elvit-mono");
  readout.replaceChildren(...elvit.tParts("{0}: probability {1}", h("b", null, d.label), elvit.fmt(0.5, 3)));
  view.root.append(h("div", {class: "elvit-row elvit-column"}, h("span", null, "×"),
                     h("span", {class: "elvit-flow" + (n ? " elvit-flow-current" : "")},
                       "x̂ = (x − μ) / √(σ² + ε)")));
  picture.onCells((cell, how) => { if (how === "hover" || how === "key press") return; });
  picture.frame.style.backgroundImage = "linear-gradient(to right, white 1px, transparent 1px)";
  document.querySelectorAll('figure[data-elvit-view="attention map"]');
  console.error("elvit: cannot draw this figure");
  const note = elvit.t("A long sentence " +
                       'on two lines, it\\'s \\u2212 fine.');
  const key = `head-${n}-${n}`, text = `${d.label}: ${elvit.fmt(1, 2)}`;
  picture.setTitle(`Q: ${n}×${n}`);
  readout.replaceChildren(`w − lr·∂L/∂w = ${n} − ${n} × ${n} = `, h("b", null, elvit.fmt(n, 4)));
  /* A comment with "Words in quotes" and h("p", null, "text") */
  // status.textContent = "Loading the numbers";
  const pattern = /\\{(\\d+)\\}/g, ratio = n / 2 / 1, quote = /"[^"]+ words"/;
  d3.select("svg").append("text").attr("text-anchor", "middle").on("pointerenter focus", () => {});
  picture.setTitle(`${elvit.t("CLS")}: ${n}`);
});
"""


def test_the_guard_finds_untranslated_text_and_passes_translated_text():
    found = [(f.line, f.text) for f in untranslated(BAD)]
    assert found == [
        (3, "Input image"), (4, "Grid of  by  patches"), (5, "Hover a patch."), (6, "Close"),
        (8, "Too many"), (8, "Ready"), (9, "Patch "), (10, "More about it"), (11, "This model is untrained."),
        (12, "block "), (13, "elvit.t(…)"), (14, "elvit.t"), (15, "elvit.t(note)"), (16, "the numbers"),
        (17, "CLS"), (17, "patch"), (18, " of "), (18, "lr = , the rate")]
    assert untranslated(GOOD) == []


def test_messages_are_read_from_calls_not_from_comments():
    assert [message for _, message in messages(GOOD)] == [
        "Input image", "Grid of {0} by {0} patches", "{0}: probability {1}",
        "A long sentence on two lines, it's \u2212 fine.", "CLS"]
    assert [message for _, message in messages(BAD)] == ["Block", "Could not load {0}"]
    assert messages(GOOD)[3][0] == 14  # the line of the call


def test_messages_number_their_values_from_0():
    for message, places in script_messages().items():
        used = {int(i) for i in PLACEHOLDER.findall(message)}
        assert used == set(range(len(used))), (message, places)


def test_gettext_writes_every_scripts_messages_to_elvit_pot(make_app, tmp_path):
    (tmp_path / "conf.py").write_text('extensions = ["elvit_sphinx"]\nproject = "pot test"\n')
    (tmp_path / "index.rst").write_text("Pot test\n========\n\nNo figures here.\n")
    app = make_app("gettext", srcdir=tmp_path)
    app.build()
    with open(Path(app.outdir) / "elvit.pot", "rb") as pot:
        catalog = read_po(pot)
    ids = {message.id for message in catalog if message.id}
    assert ids == set(script_messages())
    files = {location for message in catalog for location, _ in message.locations}
    scripts_with_words = {"elvit.js", "tokens.js"} | {f"views/{path.name}" for path in
                                                      (STATIC_DIR / "views").glob("*.js")}
    assert scripts_with_words <= files, f"scripts with no message in elvit.pot: {scripts_with_words - files}"


def test_catalogs_translate_current_messages_with_the_same_values():
    current = script_messages()
    catalogs = sorted((ROOT / "tests" / "roots").glob("*/locale/*/LC_MESSAGES/elvit.po")) + \
        sorted((ROOT / "book").glob("locale/*/LC_MESSAGES/elvit.po"))
    assert catalogs
    for path in catalogs:
        with open(path, "rb") as po:
            for message in read_po(po):
                if not message.id or not message.string:
                    continue
                assert message.id in current, f"{path}: {message.id!r} is no longer a message of the scripts"
                assert set(PLACEHOLDER.findall(message.string)) == set(PLACEHOLDER.findall(message.id)), \
                    f"{path}: {message.string!r} does not show the values of {message.id!r}"
