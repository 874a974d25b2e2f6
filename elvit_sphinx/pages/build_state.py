"""Per-build facts every directive needs: the resolved model, the cache, and a logger.

The model is resolved once, in the main Sphinx process at ``builder-inited`` (before any
``-j`` fork). An unusable ``elvit_model`` ends the build right there with one error that names
the setting's file and line and the fix, and no traceback: every chapter's figures and glued
numbers come from the model, so building on would only fail again in every notebook.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sphinx.util import logging

from elvit_sphinx.config import cache_dir, get_config
from elvit_sphinx.notebook import export_build_settings
from elvit_sphinx.tracing.cache import Cache
from elvit_sphinx.tracing.model_source import ModelSource, ModelSourceError, resolve

logger = logging.getLogger(__name__)


@dataclass
class BuildState:
    source: ModelSource
    cache: Cache
    max_pixels: int
    check_reference: bool
    timeout: float


def _setting_location(confdir) -> str:
    """conf.py:LINE of the elvit_model assignment (line 1 when it is not set there)."""
    path = os.path.join(confdir, "conf.py")
    line = 1
    try:
        with open(path, encoding="utf-8") as handle:
            for number, text in enumerate(handle, start=1):
                if text.lstrip().startswith("elvit_model"):
                    line = number
                    break
    except OSError:
        pass
    return f"{path}:{line}"


def init_build_state(app) -> None:
    config = get_config(app)
    cache = Cache(cache_dir(app))
    try:
        source = resolve(config.model, base_dir=app.confdir)
    except ModelSourceError as exc:
        origin = "ELVIT_MODEL environment variable" if os.environ.get("ELVIT_MODEL") else "conf.py"
        logger.error(f"{exc} (set in the {origin}); the build stops here", type="elvit",
                     subtype="model", location=_setting_location(app.confdir))
        # Not a SphinxError: Sphinx 9 prints those with a traceback. SystemExit ends
        # sphinx-build quietly with status 2 after the one error above.
        raise SystemExit(2) from None
    # Kept on the environment (Sphinx 9 deprecates env.app, so directives and visitors cannot
    # reach the application); rewritten at every build's start, so a pickled copy never lingers.
    app.env.elvit_state = BuildState(source, cache, config.max_image_pixels,
                                 config.check_reference, float(config.compute_timeout))
    export_build_settings(source, cache.root, config.max_image_pixels)
    logger.info(f"elvit: model {source.label} (model fingerprint {source.fingerprint[:12]})")


def state(env) -> BuildState:
    return env.elvit_state
