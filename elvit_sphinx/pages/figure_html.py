"""The HTML of one figure, shared by the Sphinx visitor and standalone pages (tests, export).

``<figure data-elvit-view data-elvit-key>`` holds an empty root the view's script draws into,
the view's data as inline JSON (``fetch()`` is blocked on ``file://``), the alt text for readers
without JavaScript, and the caption with the provenance sentence.
"""

from __future__ import annotations

import html

from elvit_sphinx.views.base import script_safe


def figure_html(view: str, element_id: str, key: str, data_json: str, alt: str, caption: str,
                provenance: str, static_url: str = "", links_json: str = "") -> str:
    """``static_url``: the figure's static picture, shown without JavaScript and downloadable."""
    picture = (f'<img class="elvit-static" src="{html.escape(static_url)}" alt="{html.escape(alt)}">'
               if static_url else "")
    noscript = picture + f'<p class="elvit-alt">{html.escape(alt)}</p>'
    download = (f'<a class="elvit-download" href="{html.escape(static_url)}" '
                f'download="elvit-{html.escape(view)}-{html.escape(key[:8])}.png">Download PNG</a>'
                if static_url else "")
    links = (f'<script type="application/json" class="elvit-links">{script_safe(links_json)}</script>'
             if links_json else "")
    parts = [
        f'<figure class="elvit-figure" data-elvit-view="{html.escape(view)}" '
        f'data-elvit-key="{html.escape(key)}" id="{html.escape(element_id)}">',
        f'<div class="elvit-view-root" role="group" aria-label="{html.escape(alt)}"></div>',
        f'<script type="application/json" class="elvit-data">{script_safe(data_json)}</script>',
        links,
        f"<noscript>{noscript}</noscript>",
        "<figcaption>",
        f'<span class="elvit-caption">{html.escape(caption)}</span> ' if caption else "",
        f'<span class="elvit-provenance">{html.escape(provenance)}</span>',
        download,
        "</figcaption></figure>",
    ]
    return "".join(parts)
