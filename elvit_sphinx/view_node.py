"""The doctree node of a view and how each builder writes it.

The node holds only a cache key and a few strings (doctrees stay small); the HTML visitor
reads the Bokeh JSON from the cache and embeds it inline, because pages opened from
``file://`` cannot ``fetch()`` data. Other builders get the alt text and caption.
"""

from __future__ import annotations

import html

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging

from elvit_sphinx.views.base import instantiate_ids

logger = logging.getLogger(__name__)


class elvit_view(nodes.General, nodes.Element):  # noqa: N801 - docutils naming convention
    """A view: attributes view, key, image, options, serial, caption, provenance, alt."""


def _regenerate(env, node) -> str | None:
    # The page is being rewritten without its source being re-read (e.g. a theme change)
    # and the cache entry is gone: rebuild it from the same request.
    from elvit_sphinx.build_state import state
    from elvit_sphinx.view_data import ViewRequest, materialize
    from elvit_sphinx.views import VIEWS

    build = state(env)
    request = ViewRequest(VIEWS[node["view"]], node["image"], node["options"])
    key, _config, _problems = materialize(build, request, info=logger.info, warn=logger.warning)
    return build.cache.read_text(build.cache.view_path(key)) if key else None


def visit_elvit_view_html(self, node) -> None:
    from elvit_sphinx.build_state import state

    cache = state(self.builder.env).cache
    item = cache.read_text(cache.view_path(node["key"])) or _regenerate(self.builder.env, node)
    if item is None:
        logger.warning("elvit: view data missing from the cache", location=node,
                       type="elvit", subtype="cache")
        raise nodes.SkipNode
    prefix = f"elvit-{node['serial']}"
    target = f"{prefix}-root"
    # "</" would end the <script> element early; JSON allows the escaped form.
    payload = instantiate_ids(item, prefix).replace("</", "<\\/")
    caption = html.escape(node["caption"])
    parts = [
        f'<figure class="elvit-figure" data-elvit-view="{node["view"]}" id="{prefix}">',
        f'<div class="elvit-view-root" id="{target}"></div>',
        f'<script type="application/json" class="elvit-item" data-target="{target}">'
        f"{payload}</script>",
        f'<noscript><p class="elvit-alt">{html.escape(node["alt"])}</p></noscript>',
        "<figcaption>",
        f'<span class="elvit-caption">{caption}</span> ' if caption else "",
        f'<span class="elvit-provenance">{html.escape(node["provenance"])}</span>',
        "</figcaption></figure>",
    ]
    self.body.append("".join(parts))
    raise nodes.SkipNode


class ViewFallback(SphinxPostTransform):
    """For LaTeX, text, man… builders: the figure becomes its alt text and caption."""

    default_priority = 200

    def run(self, **kwargs) -> None:
        if self.env._builder_cls.format == "html":  # as Sphinx's own post-transforms check
            return
        for node in list(self.document.findall(elvit_view)):
            text = " ".join(filter(None, [node["caption"], f"[Interactive figure: {node['alt']}]",
                                          node["provenance"]]))
            node.replace_self(nodes.paragraph(text, text))


def setup_view_node(app) -> None:
    app.add_node(elvit_view, html=(visit_elvit_view_html, None))
    app.add_post_transform(ViewFallback)
