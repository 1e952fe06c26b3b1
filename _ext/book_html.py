"""Small fixes to the HTML that Jupyter Book 1.x emits, so that every page is clean offline.

sphinx-thebe (bundled with Jupyter Book, for "live code" buttons this book does not use) adds its
configuration script once per read phase, so pages end up declaring ``const THEBE_JS_URL`` twice
(a JavaScript error on every page) and carry a reference to a CDN. This book runs offline and has
no live-code buttons, so the thebe scripts are dropped, and any other exact duplicate is removed.
"""

from __future__ import annotations


def _clean_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for js in scripts:
        body = getattr(js, "attributes", {}).get("body", "") or ""
        if "THEBE_JS_URL" in body or str(js).endswith("sphinx-thebe.js"):
            continue
        key = (str(js), body)
        if key not in seen:
            seen.add(key)
            kept.append(js)
    scripts[:] = kept


def setup(app):
    app.connect("html-page-context", _clean_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
