"""The reader's own images: ``elvit_images`` in conf.py, and ``:images:`` on figures with a menu.

``elvit_images`` lists image files, relative to the folder of ``conf.py``::

    elvit_images = ["my-photos/cat.jpg", "my-photos/dog-and-ball.png"]

They join the image menu of every figure that has one (the views whose options include
``images``: ``elvit-similarity`` and ``elvit-patch-predictions``) after the directive's own
``:image:`` and ``:images:``, and the gallery of the interpretation chapter, which reads them from
the environment variable :data:`~elvit_sphinx.analysis.interpretation_chapter.READER_IMAGES_VARIABLE`.

They are checked once, when the build starts: a setting that is not a list of paths, or a file
that is missing, corrupt or too large, gives one warning pointing at its line in conf.py, and
that image is left out; the book builds without it. A bad path in a directive's ``:images:``
gives one warning at the directive's line, and the figure is drawn with the other images.

The figures' directives resolve the menu's paths (relative to their page) into
``[absolute path, sha256]`` pairs before the view is built, so that a figure's cache key changes
whenever one of its images does, and note each file as a dependency of the page.
"""

from __future__ import annotations

import json
import os

from sphinx.util import logging

from elvit_sphinx.analysis.interpretation_chapter import READER_IMAGES_VARIABLE
from elvit_sphinx.config import get_config
from elvit_sphinx.pages.build_state import state
from elvit_sphinx.pages.directive import make_directive
from elvit_sphinx.tracing.images import ImageError, file_sha256, load_rgb
from elvit_sphinx.views.base import ViewSpec

logger = logging.getLogger(__name__)


def conf_location(confdir: str, text: str) -> str:
    """``conf.py:LINE`` of the first line mentioning ``text``, else of the ``elvit_images``
    assignment, else line 1: where the reader has to look."""
    path = os.path.join(confdir, "conf.py")
    found = setting = None
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if setting is None and line.lstrip().startswith("elvit_images"):
                    setting = number
                if found is None and text and text in line:
                    found = number
    except OSError:
        pass
    return f"{path}:{found or setting or 1}"


def _warn(message: str, location: str) -> None:
    logger.warning(f"elvit_images: {message}", location=location, type="elvit", subtype="image")


def checked_reader_images(app) -> list[str]:
    """The usable images of ``elvit_images`` as absolute paths, warning about the others."""
    value = app.config.elvit_images
    if not isinstance(value, (list, tuple)):
        _warn(f"expected a list of image paths relative to conf.py, e.g. ['photos/cat.jpg']; got "
              f"{value!r}; no reader images are used", conf_location(app.confdir, ""))
        return []
    max_pixels = get_config(app).max_image_pixels
    usable: list[str] = []
    for entry in value:
        if not isinstance(entry, str):
            _warn(f"{entry!r} is not a path (a string); it is left out", conf_location(app.confdir, ""))
            continue
        path = os.path.normpath(os.path.join(app.confdir, entry))
        try:
            load_rgb(path, max_pixels)
        except ImageError as exc:
            _warn(f"{entry!r}: {exc}; it is left out", conf_location(app.confdir, entry))
            continue
        if path not in usable:
            usable.append(path)
    return usable


def init_reader_images(app) -> None:
    images = checked_reader_images(app)
    # Rewritten at every build's start, like elvit_state: directives (also in -j workers) read it.
    app.env.elvit_reader_images = images
    # Notebook kernels inherit the environment: the chapter's gallery reads the same list.
    os.environ[READER_IMAGES_VARIABLE] = json.dumps(images)


def reader_images(env) -> list[str]:
    return list(getattr(env, "elvit_reader_images", []))


def image_menu_directive(view: ViewSpec) -> type:
    """The view's directive, with its ``:images:`` and ``elvit_images`` resolved to files."""

    class ImageMenuDirective(make_directive(view)):
        def run(self) -> list:
            if "image" in self.options:  # without it the base directive warns and stops
                self.options["images"] = self._menu_images()
            return super().run()

        def _menu_images(self) -> list[list[str]]:
            max_pixels = state(self.env).max_pixels
            _relative, primary = self.env.relfn2path(self.options["image"], self.env.docname)
            menu: list[str] = []
            for entry in self.options.get("images") or []:
                relative, path = self.env.relfn2path(entry, self.env.docname)
                self.env.note_dependency(relative)
                try:
                    load_rgb(path, max_pixels)
                except ImageError as exc:
                    self._warn(f":images: {exc}; the menu goes without it", "image")
                    continue
                menu.append(os.path.normpath(path))
            for path in reader_images(self.env):
                self.env.note_dependency(path)
                menu.append(path)
            unique = [path for i, path in enumerate(menu)
                      if path != os.path.normpath(primary) and path not in menu[:i]]
            return [[path, file_sha256(path)] for path in unique]

    ImageMenuDirective.__name__ = f"Elvit{view.name.title().replace('-', '')}MenuDirective"
    return ImageMenuDirective


def setup_reader_images(app) -> None:
    """Call after the views' directives are registered: replaces those of views with a menu."""
    from elvit_sphinx.views import VIEWS

    app.connect("builder-inited", init_reader_images)
    for view in VIEWS.values():
        if "images" in view.option_spec:
            app.add_directive(f"elvit-{view.name}", image_menu_directive(view), override=True)
