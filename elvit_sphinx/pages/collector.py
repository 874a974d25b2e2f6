"""Cross-document state kept on the Sphinx environment, safe under ``-j``.

* ``env.elvit_view_docs`` — for each document, the names of the views it contains (its page
  loads the runtime and exactly those views' scripts);
* ``env.elvit_model_fingerprint`` — the weights the stored doctrees were computed from; when
  the weights behind the same ``elvit_model`` change, those documents are read again.
"""

from __future__ import annotations

from elvit_sphinx.pages.build_state import state


def _docs(env) -> dict[str, set[str]]:
    if not isinstance(getattr(env, "elvit_view_docs", None), dict):
        env.elvit_view_docs = {}
    return env.elvit_view_docs


def note_view(env, docname: str, view: str) -> None:
    _docs(env).setdefault(docname, set()).add(view)


def views_of(env, docname: str) -> list[str]:
    return sorted(_docs(env).get(docname, ()))


def has_views(env, docname: str) -> bool:
    return bool(_docs(env).get(docname))


def purge_doc(app, env, docname: str) -> None:
    _docs(env).pop(docname, None)


def merge_info(app, env, docnames, other) -> None:
    for docname in docnames:
        if docname in _docs(other):
            _docs(env)[docname] = set(_docs(other)[docname])


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
