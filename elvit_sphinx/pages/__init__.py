"""The Sphinx side: directives, doctree nodes and how each builder writes them, the
per-build state, glossary tooltips, citation boxes, the build line, translations of the
figures' words and the extension reference."""
