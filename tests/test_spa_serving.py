"""Serving the admin app: index.html for deep links, static files with the right types and
cache headers, and never in the way of the API (the whole app in this process: these tests only read)."""

from __future__ import annotations

import pytest

from storewatch.server.spa import _static_file


@pytest.mark.parametrize("path", ["/", "/devices", "/devices/pi-cam.1", "/events?device=x", "/settings/",
                                  "/login?next=%2Fqueue", "/no/such/page"])
def test_every_deep_link_answers_index_html(module_app, path):
    answer = module_app.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="/static/app.js"></script>' in answer.text
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("path, content_type", [
    ("/static/app.js", "text/javascript; charset=utf-8"),
    ("/static/pages/devices.js", "text/javascript; charset=utf-8"),
    ("/static/style.css", "text/css; charset=utf-8"),
    ("/static/icon.svg", "image/svg+xml"),
])
def test_static_files_have_their_content_type_and_revalidate(module_app, path, content_type):
    answer = module_app.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == content_type
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "no-cache"
    again = module_app.get(path, headers={"If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


@pytest.mark.parametrize("path", ["/static/nothing.js", "/static/%2e%2e/server/app.py",
                                  "/static/pages", "/static/"])
def test_missing_or_escaping_static_paths_are_json_404s(module_app, path):
    answer = module_app.get(path)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


def test_the_fallback_never_shadows_the_api(module_app):
    unknown = module_app.get("/api/v1/nothing-here")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    wrong_method = module_app.get("/api/v1/ingest/frame")
    assert wrong_method.status_code == 405
    admin = module_app.get("/api/v1/admin/devices")
    assert admin.status_code == 401 and admin.json()["error"]["code"] == "unauthorized"
    assert module_app.get("/metrics/nothing").headers["content-type"] != "text/html; charset=utf-8"
    assert module_app.post("/devices").status_code == 405


def test_static_paths_are_confined_to_the_static_directory(tmp_path):
    root = tmp_path / "static"
    root.mkdir()
    (root / "app.js").write_text("")
    (tmp_path / "secret.js").write_text("")
    (root / "notes.py").write_text("")
    assert _static_file("app.js", root) == (root / "app.js").resolve()
    for bad in ("../secret.js", "/etc/passwd", "notes.py", "", "a\\..\\b.js", "app.js\0"):
        assert _static_file(bad, root) is None


DOCUMENT_HEADERS = ("content-security-policy", "x-frame-options", "referrer-policy")


@pytest.mark.parametrize("path", ["/static/index.html", "/static/icon.svg", "/static/app.js"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_static_files_carry_the_same_csp_and_frame_headers_as_the_app(module_app, path, method):
    """/static/index.html is the app too: framed or without its CSP it could be clickjacked."""
    app = module_app.get("/devices")
    answer = module_app.request(method, path)
    assert answer.status_code == 200
    for name in DOCUMENT_HEADERS:
        assert answer.headers.get(name) == app.headers[name], (path, name)
    assert answer.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    revalidated = module_app.get(path, headers={"If-None-Match": answer.headers["etag"]})
    assert revalidated.status_code == 304
    assert revalidated.headers.get("x-frame-options") == "DENY"


@pytest.mark.parametrize("path", ["/static/app.js", "/devices/pi-cam-1"])
def test_head_and_304_keep_the_headers_of_the_file(module_app, path):
    got = module_app.get(path)
    head = module_app.head(path)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(got.content))
    for name in ("content-type", "etag", "last-modified", "cache-control", "x-content-type-options",
                 *DOCUMENT_HEADERS):
        assert head.headers[name] == got.headers[name], name
    not_modified = module_app.get(path, headers={"If-None-Match": got.headers["etag"]})
    assert not_modified.status_code == 304
    for name in ("etag", "last-modified", "cache-control", "x-content-type-options", *DOCUMENT_HEADERS):
        assert not_modified.headers[name] == got.headers[name], name
