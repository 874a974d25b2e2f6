"""Every ``elvit_*`` configuration value, declared once: type, default, help.

Registered in a loop by :func:`setup_config`; read everywhere through :func:`get_config`.
``ELVIT_MODEL`` in the environment overrides ``elvit_model`` (so instructors and CI can
switch checkpoints without editing conf.py).
"""

from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, field, fields

from elvit_sphinx.tracing.images import DEFAULT_MAX_PIXELS


@dataclass
class ElvitConfig:
    model: str = field(default="embedded", metadata={
        "help": "'embedded', a folder written by save_pretrained(), or a Hugging Face id",
        "rebuild": "env"})
    cache_dir: str = field(default="", metadata={
        "help": "where traces and view data are cached; default <outdir>/../.elvit_cache",
        "rebuild": ""})
    max_image_pixels: int = field(default=DEFAULT_MAX_PIXELS, metadata={
        "help": "larger images are refused with a warning instead of being decoded",
        "rebuild": "env"})
    check_reference: bool = field(default=True, metadata={
        "help": "check every traced tensor against the plain-NumPy forward pass",
        "rebuild": "env"})
    compute_timeout: int = field(default=900, metadata={
        "help": "seconds one forward pass (including model loading) may take",
        "rebuild": ""})
    citation_file: str = field(default="", metadata={
        "help": "a CITATION.cff (relative to conf.py): chapters end with a 'Cite this chapter' box",
        "rebuild": "env"})
    cite_docs: str = field(default=r"^\d", metadata={
        "help": "regular expression: the documents (by name) that get a citation box",
        "rebuild": "env"})
    standalone_views: bool = field(default=False, metadata={
        "help": "also write every figure as a self-contained HTML file under _elvit/standalone/ "
                "(for slides; nox -s build -- -D elvit_standalone_views=1)",
        "rebuild": "html"})
    build_line: bool = field(default=True, metadata={
        "help": "end every HTML page with a line naming the book version and the checkpoint",
        "rebuild": "html"})
    images: list = field(default_factory=list, metadata={
        "help": "the reader's own images (paths relative to conf.py), added to the image menus of "
                "the interpretation figures and to that chapter's gallery (reader_images.py)",
        "rebuild": "env"})


def setup_config(app) -> None:
    for spec in fields(ElvitConfig):
        # A list default must come from a factory (dataclasses refuse a shared mutable default).
        default = spec.default_factory() if spec.default is MISSING else spec.default
        app.add_config_value(f"elvit_{spec.name}", default, spec.metadata["rebuild"],
                             types=frozenset({type(default)}),
                             description=spec.metadata["help"])
    app.connect("config-inited", _apply_environment_override)


def _apply_environment_override(app, config) -> None:
    override = os.environ.get("ELVIT_MODEL", "").strip()
    if override:
        config.elvit_model = override


def get_config(app) -> ElvitConfig:
    return ElvitConfig(**{spec.name: getattr(app.config, f"elvit_{spec.name}")
                          for spec in fields(ElvitConfig)})


def cache_dir(app) -> str:
    configured = get_config(app).cache_dir
    if configured:
        return os.path.abspath(os.path.join(app.confdir, configured))
    return os.path.abspath(os.path.join(app.outdir, os.pardir, ".elvit_cache"))
