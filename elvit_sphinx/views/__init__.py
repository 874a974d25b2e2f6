"""The registry of views: every module of this package that defines ``VIEW`` (see :mod:`.base`).

Modules are found, not listed, so adding a view is adding one module (and its script
``static/views/<name>.js``). Helper modules (no ``VIEW``) live here too.
"""

from __future__ import annotations

import importlib
import pkgutil

from elvit_sphinx.views.base import ViewSpec


def _discover() -> dict[str, ViewSpec]:
    found: dict[str, ViewSpec] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        spec = getattr(module, "VIEW", None)
        if isinstance(spec, ViewSpec):
            if spec.name in found:
                raise RuntimeError(f"two view modules define the view {spec.name!r}")
            found[spec.name] = spec
    return found


VIEWS: dict[str, ViewSpec] = _discover()
