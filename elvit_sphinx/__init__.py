"""elvit_sphinx: a Sphinx extension that traces a real Vision Transformer during the build.

Add ``"elvit_sphinx"`` to ``extensions`` in ``conf.py``. Importing this package never imports
torch: the forward pass runs in a spawned worker process (see :mod:`elvit_sphinx.tracing.compute_client`).
"""

__version__ = "0.1.0"


def setup(app):
    from elvit_sphinx.extension import setup as _setup

    return _setup(app)
