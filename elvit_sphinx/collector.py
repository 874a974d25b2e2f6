"""Cross-document state kept on the Sphinx environment, safe under ``-j``.

* ``env.elvit_view_docs`` — documents that contain at least one view (they get BokehJS);
* ``env.elvit_model_fingerprint`` — the weights the stored doctrees were computed from; when
  the weights behind the same ``elvit_model`` change, those documents are read again.
"""

from __future__ import annotations

from elvit_sphinx.build_state import state


def _docs(env) -> set[str]:
    if not hasattr(env, "elvit_view_docs"):
        env.elvit_view_docs = set()
    return env.elvit_view_docs


def note_view(env, docname: str) -> None:
    _docs(env).add(docname)


def has_views(env, docname: str) -> bool:
    return docname in _docs(env)


def purge_doc(app, env, docname: str) -> None:
    _docs(env).discard(docname)


def merge_info(app, env, docnames, other) -> None:
    _docs(env).update(_docs(other) & set(docnames))


def outdated_by_new_weights(app, env, added, changed, removed) -> list[str]:
    current = state(env).source
    fingerprint = current.fingerprint if current else None
    previous = getattr(env, "elvit_model_fingerprint", None)
    env.elvit_model_fingerprint = fingerprint
    if previous is not None and previous != fingerprint:
        return sorted(_docs(env))
    return []


def setup_collector(app) -> None:
    app.connect("env-purge-doc", purge_doc)
    app.connect("env-merge-info", merge_info)
    app.connect("env-get-outdated", outdated_by_new_weights)
