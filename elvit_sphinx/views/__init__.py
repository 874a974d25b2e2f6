"""The registry of views: one module per view, each defining ``VIEW`` (see :mod:`.base`)."""

from __future__ import annotations

import importlib

from elvit_sphinx.views.base import ViewSpec

VIEW_MODULES = ("patches", "conv", "prediction")

VIEWS: dict[str, ViewSpec] = {}
for _name in VIEW_MODULES:
    _spec = importlib.import_module(f"elvit_sphinx.views.{_name}").VIEW
    VIEWS[_spec.name] = _spec
