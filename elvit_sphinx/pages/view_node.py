"""The doctree node of a view and how each builder writes it.

The node holds only a cache key and a few strings (doctrees stay small). The HTML visitor reads
the view's data from the cache and embeds it inline, because pages opened from ``file://``
cannot ``fetch()`` data; the view's chunks (data loaded on demand) are copied beside the site
as ``_elvit/<key>/<chunk>.js``. Other builders get the alt text and caption.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tempfile

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.osutil import relative_uri

from elvit_sphinx.pages.figure_html import figure_html

logger = logging.getLogger(__name__)

CHUNK_FOLDER = "_elvit"


class elvit_view(nodes.General, nodes.Element):  # noqa: N801 - docutils naming convention
    """A view: attributes view, key, image (None for a view drawn from files), files (what such
    a view reads), options, serial, caption, provenance, alt, links."""


def _regenerate(env, node) -> str | None:
    # The page is being rewritten without its source being re-read (e.g. a theme change)
    # and the cache entry is gone: rebuild it from the same request.
    from elvit_sphinx.pages.build_state import state
    from elvit_sphinx.pages.view_data import ViewRequest, materialize
    from elvit_sphinx.views import VIEWS

    build = state(env)
    request = ViewRequest(VIEWS[node["view"]], node["image"], node["options"],
                          tuple(node.get("files") or ()))
    key, _config, _problems = materialize(build, request, info=logger.info, warn=logger.warning)
    return build.cache.read_text(build.cache.view_path(key)) if key else None


def caption_of(node) -> str:
    """The figure's caption, translated when the build has a translation for it."""
    child = node.next_node(nodes.caption)
    return child.astext() if child is not None else node["caption"]


def _copy_if_changed(source: str, destination: str) -> None:
    if os.path.exists(destination) and os.path.getsize(destination) == os.path.getsize(source):
        return  # chunk names are content keys: same name and size is the same file
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(destination), suffix=".tmp")
    os.close(fd)
    shutil.copyfile(source, tmp)
    os.chmod(tmp, 0o644)  # mkstemp makes files private (0600); a web server must read them
    os.replace(tmp, destination)  # parallel writers of the same chunk never leave half a file


def publish_chunks(build, key: str, outdir: str) -> str:
    """Copy the view's chunks and static picture beside the site; return the picture's path
    relative to the output folder ("" when the view has none)."""
    from elvit_sphinx.pages.view_data import STATIC_NAME, chunk_dir, chunk_names, static_path

    for name in chunk_names(build, key):
        _copy_if_changed(os.path.join(chunk_dir(build, key), f"{name}.js"),
                         os.path.join(outdir, CHUNK_FOLDER, key, f"{name}.js"))
    if not os.path.exists(static_path(build, key)):
        return ""
    _copy_if_changed(static_path(build, key), os.path.join(outdir, CHUNK_FOLDER, key, STATIC_NAME))
    return f"{CHUNK_FOLDER}/{key}/{STATIC_NAME}"


def resolve_links(builder, node, targets: dict[str, str]) -> dict[str, str]:
    """{name: label or docname} → {name: URL relative to this page}; warns on a missing target."""
    env = builder.env
    labels = env.domaindata.get("std", {}).get("labels", {})
    resolved = {}
    for name, target in sorted(targets.items()):
        if target in labels and labels[target][0]:
            docname, anchor = labels[target][0], labels[target][1]
        elif target in env.all_docs:
            docname, anchor = target, ""
        else:
            logger.warning(f"elvit-{node['view']}: link target {target!r} (for {name!r}) is neither a "
                           "label nor a document of this book", location=node, type="elvit",
                           subtype="link")
            continue
        # A link to the page itself is "" relative to itself: name the file instead.
        uri = (builder.get_relative_uri(builder.current_docname, docname)
               or posixpath.basename(builder.get_target_uri(docname)))
        resolved[name] = uri + (f"#{anchor}" if anchor else "")
    return resolved


def visit_elvit_view_html(self, node) -> None:
    from elvit_sphinx.pages.build_state import state
    from elvit_sphinx.views.base import to_json

    build = state(self.builder.env)
    data = build.cache.read_text(build.cache.view_path(node["key"])) or _regenerate(self.builder.env, node)
    if data is None:
        logger.warning("elvit: view data missing from the cache", location=node,
                       type="elvit", subtype="cache")
        raise nodes.SkipNode
    static = publish_chunks(build, node["key"], self.builder.outdir)
    page = self.builder.get_target_uri(self.builder.current_docname)
    static_url = relative_uri(page, static) if static else ""
    links = node.get("links") or {}
    links_json = to_json(resolve_links(self.builder, node, links)) if links else ""
    self.body.append(figure_html(node["view"], f"elvit-{node['serial']}", node["key"], data,
                                 node["alt"], caption_of(node), node["provenance"],
                                 static_url=static_url, links_json=links_json))
    if self.builder.config.elvit_standalone_views:
        write_standalone(self.builder, build, node, data)
    raise nodes.SkipNode


def standalone_name(docname: str, serial: int, view: str) -> str:
    return f"{docname.replace('/', '-')}-{serial}-{view}.html"


def write_standalone(builder, build, node, data: str) -> None:
    """The figure as one self-contained HTML file (runtime, data and all chunks inlined)."""
    from elvit_sphinx.pages.standalone import standalone_page
    from elvit_sphinx.pages.view_data import chunk_dir, chunk_names
    from elvit_sphinx.views import VIEWS

    folder = chunk_dir(build, node["key"])
    chunks = [build.cache.read_text(os.path.join(folder, f"{name}.js")) or ""
              for name in chunk_names(build, node["key"])]
    page = standalone_page(VIEWS[node["view"]], data, chunks, title=caption_of(node) or node["alt"],
                           caption=caption_of(node), provenance=node["provenance"], alt=node["alt"],
                           key=node["key"])
    target = os.path.join(builder.outdir, CHUNK_FOLDER, "standalone",
                          standalone_name(builder.current_docname, node["serial"], node["view"]))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "w", encoding="utf-8") as handle:
        handle.write(page)


class ViewFallback(SphinxPostTransform):
    """For LaTeX, text, man… builders: the figure becomes its static picture (when the view has
    one) with the caption and provenance; builders without images get the alt text."""

    default_priority = 200

    def run(self, **kwargs) -> None:
        builder = self.env._builder_cls  # as Sphinx's own post-transforms check the format
        if builder.format == "html" or builder.name == "gettext":
            return  # gettext reads the caption node itself, to extract it for translation
        takes_png = "image/png" in getattr(builder, "supported_image_types", [])
        for node in list(self.document.findall(elvit_view)):
            caption_text = " ".join(filter(None, [caption_of(node), node["provenance"]]))
            if takes_png and node.get("static"):
                figure = nodes.figure("", classes=["elvit-static-figure"])
                figure += nodes.image(uri=node["static"], candidates={"*": node["static"]},
                                      alt=node["alt"])
                figure += nodes.caption(caption_text, caption_text)
                figure.source, figure.line = node.source, node.line
                node.replace_self(figure)
            else:
                text = " ".join(filter(None, [caption_of(node), f"[Interactive figure: {node['alt']}]",
                                              node["provenance"]]))
                node.replace_self(nodes.paragraph(text, text))


def setup_view_node(app) -> None:
    app.add_node(elvit_view, html=(visit_elvit_view_html, None))
    app.add_post_transform(ViewFallback)
