"""The directive behind every view: ``elvit-<view>`` with ``:image:``, ``:caption:`` + options.

Everything that can go wrong with reader input (missing or broken image, option out of range
for this model, an unusable model) becomes one warning with file:line and the figure is left
out; the rest of the page builds as usual.
"""

from __future__ import annotations

from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from elvit_sphinx.build_state import state
from elvit_sphinx.collector import note_view
from elvit_sphinx.compute_client import ComputeError
from elvit_sphinx.images import ImageError, load_rgb
from elvit_sphinx.view_data import ViewRequest, materialize, provenance
from elvit_sphinx.view_node import elvit_view
from elvit_sphinx.views.base import ViewSpec

logger = logging.getLogger(__name__)

COMMON_OPTIONS = {"image": directives.unchanged_required, "caption": directives.unchanged}


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
        note_view(self.env, self.env.docname, self.view.name)
        node = elvit_view(
            view=self.view.name, key=key, image=absolute, options=options,
            serial=self.env.new_serialno("elvit-view"),
            caption=self.options.get("caption", ""), provenance=provenance(config),
            alt=self.view.alt(config, options),
            links=self.view.links(config, options) if self.view.links else {},
        )
        self.set_source_info(node)
        return [node]


def make_directive(view: ViewSpec) -> type[ElvitViewDirective]:
    return type(f"Elvit{view.name.title()}Directive", (ElvitViewDirective,),
                {"view": view, "option_spec": {**COMMON_OPTIONS, **view.option_spec},
                 "has_content": view.content})
