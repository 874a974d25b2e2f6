"""Per-build facts every directive needs: the resolved model, the cache, and a logger.

The model is resolved once, in the main Sphinx process at ``builder-inited`` (before any
``-j`` fork), so an unusable ``elvit_model`` produces exactly one error for the whole build.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sphinx.util import logging

from elvit_sphinx.cache import Cache
from elvit_sphinx.config import cache_dir, get_config
from elvit_sphinx.model_source import ModelSource, ModelSourceError, resolve
from elvit_sphinx.notebook import export_build_settings

logger = logging.getLogger(__name__)


@dataclass
class BuildState:
    source: ModelSource | None
    model_error: str | None
    cache: Cache
    max_pixels: int
    check_reference: bool
    timeout: float


def init_build_state(app) -> None:
    config = get_config(app)
    cache = Cache(cache_dir(app))
    source, error = None, None
    try:
        source = resolve(config.model, base_dir=app.confdir)
    except ModelSourceError as exc:
        error = str(exc)
        origin = "ELVIT_MODEL environment variable" if os.environ.get("ELVIT_MODEL") else "conf.py"
        logger.error(f"{error} (set in the {origin})", type="elvit", subtype="model",
                     location=os.path.join(app.confdir, "conf.py"))
    app.elvit_state = BuildState(source, error, cache, config.max_image_pixels,
                                 config.check_reference, float(config.compute_timeout))
    if source is not None:
        export_build_settings(source, cache.root, config.max_image_pixels)
        logger.info(f"elvit: model {source.label} (weights sha256 {source.fingerprint[:12]})")


def state(app) -> BuildState:
    return app.elvit_state
