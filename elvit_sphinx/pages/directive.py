"""The directive behind every view: ``elvit-<view>`` with ``:image:``, ``:caption:`` + options.

Everything that can go wrong with reader input (missing or broken image, option out of range
for this model, an unusable model) becomes one warning with file:line and the figure is left
out; the rest of the page builds as usual.
"""

from __future__ import annotations

import os

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from elvit_sphinx.pages.build_state import state
from elvit_sphinx.pages.collector import note_view
from elvit_sphinx.pages.view_data import ViewRequest, files_provenance, materialize, provenance, static_path
from elvit_sphinx.pages.view_node import elvit_view
from elvit_sphinx.tracing.compute_client import ComputeError
from elvit_sphinx.tracing.images import ImageError, load_rgb
from elvit_sphinx.views.base import ViewSpec

logger = logging.getLogger(__name__)

COMMON_OPTIONS = {"image": directives.unchanged_required, "caption": directives.unchanged}
#: Views drawn from files (ViewSpec.source_files) take no image.
FILE_VIEW_OPTIONS = {"caption": directives.unchanged}


class ElvitViewDirective(SphinxDirective):
    view: ViewSpec
    has_content = False
    required_arguments = 0
    optional_arguments = 0

    def _warn(self, message: str, subtype: str) -> list:
        logger.warning(f"elvit-{self.view.name}: {message}", location=self.get_location(),
                       type="elvit", subtype=subtype)
        return []

    def run(self) -> list:
        build = state(self.env)
        if not self.view.needs_trace:
            return self._run_from_files(build)
        if "image" not in self.options:
            return self._warn("the :image: option is required (a path relative to this page)",
                              "options")
        relative, absolute = self.env.relfn2path(self.options["image"], self.env.docname)
        self.env.note_dependency(relative)
        try:
            load_rgb(absolute, build.max_pixels)
        except ImageError as exc:
            return self._warn(str(exc), "image")
        options = {**self.view.defaults,
                   **{k: v for k, v in self.options.items() if k in self.view.option_spec}}
        if self.view.content:
            options["content"] = "\n".join(self.content)
        request = ViewRequest(self.view, absolute, options)
        try:
            key, config, problems = materialize(
                build, request, info=logger.info,
                warn=lambda message: logger.warning(message, location=self.get_location(),
                                                    type="elvit", subtype="trace"))
        except (ComputeError, ImageError) as exc:
            return self._warn(f"the forward pass failed: {exc}", "compute")
        if problems:
            for problem in problems:
                self._warn(problem, "options")
            return []
        return [self._node(key, absolute, options, config, provenance(config))]

    def _node(self, key: str, image: str | None, options: dict, config, provenance_text: str,
              files: tuple[str, ...] = ()) -> elvit_view:
        note_view(self.env, self.env.docname, self.view.name)
        static = static_path(state(self.env), key)
        if os.path.exists(static):
            # Registered as an image of this page, so that LaTeX and other builders copy it
            # when the figure is replaced by its static picture (view_node.ViewFallback).
            self.env.images.add_file(self.env.docname, static)
        else:
            static = ""
        node = elvit_view(
            view=self.view.name, key=key, image=image, options=options, files=files,
            serial=self.env.new_serialno("elvit-view"),
            caption=self.options.get("caption", ""), provenance=provenance_text,
            alt=self.view.alt(config, options), static=static,
            links=self.view.links(config, options) if self.view.links else {},
        )
        self.set_source_info(node)
        caption = self.options.get("caption", "")
        if caption:
            # A real text node, so that Sphinx's gettext builder extracts the caption and a
            # translated build replaces it (view_node.caption_of reads it back).
            text = nodes.caption(caption, caption)
            self.set_source_info(text)
            node += text
        return node

    def _run_from_files(self, build) -> list:
        """A view drawn from files (ViewSpec.source_files): no image, no forward pass."""
        options = {**self.view.defaults,
                   **{k: v for k, v in self.options.items() if k in self.view.option_spec}}
        try:
            names = self.view.source_files(build.source, options)
        except ValueError as exc:
            return self._warn(str(exc), "options")
        files = []
        for name in names:
            absolute = name if os.path.isabs(name) else self.env.relfn2path(name, self.env.docname)[1]
            if not os.path.isfile(absolute):
                return self._warn(f"file not found: {name}", "options")
            self.env.note_dependency(absolute)
            files.append(absolute)
        request = ViewRequest(self.view, None, options, tuple(files))
        key, paths, problems = materialize(build, request, info=logger.info, warn=logger.warning)
        for problem in problems:
            self._warn(problem, "options")
        if problems:
            return []
        return [self._node(key, None, options, paths, files_provenance(files), tuple(files))]


def make_directive(view: ViewSpec) -> type[ElvitViewDirective]:
    common = COMMON_OPTIONS if view.needs_trace else FILE_VIEW_OPTIONS
    return type(f"Elvit{view.name.title()}Directive", (ElvitViewDirective,),
                {"view": view, "option_spec": {**common, **view.option_spec},
                 "has_content": view.content})
