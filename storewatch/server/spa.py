"""Serving the admin single-page app: its static files, and index.html for every deep link.

These routes go last in the route list. The fallback answers any GET that no API route
took with index.html, so a reload on /devices/pi-cam-1 works; it never answers under
/api/ or /metrics, where an unknown path stays the API's JSON 404.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Match, Mount, Route
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
INDEX = "index.html"
RESERVED_FIRST_SEGMENTS = frozenset({"api", "metrics", "static"})

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain; charset=utf-8",
}

# No build step means no content hashes in file names, so the browser revalidates every
# file (a cheap 304 on the LAN) and an upgraded appliance is never served stale modules.
CACHE_CONTROL = "no-cache"
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
                           "script-src 'self'; connect-src 'self'; object-src 'none'; "
                           "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
# On every file, not only the deep links: /static/index.html (or an SVG opened on its own)
# is a document too, and must not be framed or run without the CSP.
DOCUMENT_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Referrer-Policy": "same-origin",
                    "X-Frame-Options": "DENY"}


def _static_file(relative: str, root: Path = STATIC_DIR) -> Path | None:
    """The file under `root` named by `relative`, or None when absent or outside it."""
    if not relative or "\\" in relative or "\0" in relative:
        return None
    candidate = (root / relative).resolve()
    try:
        candidate.relative_to(root.resolve())
    except ValueError:
        return None
    if candidate.suffix not in CONTENT_TYPES or not candidate.is_file():
        return None
    return candidate


# Set on every file (and kept on its 304), beside StaticFiles' ETag and Last-Modified.
FILE_HEADERS = {"Cache-Control": CACHE_CONTROL, "X-Content-Type-Options": "nosniff", **DOCUMENT_HEADERS}
_KEPT_ON_304 = ("last-modified", *(name.lower() for name in FILE_HEADERS))


class _AdminAppFiles(StaticFiles):
    """Starlette's StaticFiles (ETag, conditional GET, HEAD) with our content types, our
    headers, and only the file kinds in CONTENT_TYPES (never a .py beside them)."""

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        found = _static_file(path, Path(self.directory or STATIC_DIR))
        return (str(found), found.stat()) if found is not None else ("", None)

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except HTTPException as error:
            if error.status_code != 404:
                raise
            raise HTTPException(404, "No such file in the admin app.") from None

    def file_response(self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        response = FileResponse(full_path, status_code=status_code, headers=FILE_HEADERS, stat_result=stat_result,
                                media_type=CONTENT_TYPES[Path(full_path).suffix])
        if not self.is_not_modified(response.headers, Headers(scope=scope)):
            return response
        not_modified = NotModifiedResponse(response.headers)
        not_modified.headers.update({name: response.headers[name] for name in _KEPT_ON_304})
        return not_modified


FILES = _AdminAppFiles(directory=STATIC_DIR)


class _DeepLinkRoute(Route):
    """A catch-all that steps aside for /api, /metrics and /static, so that there an unknown
    path stays a JSON 404 and a wrong method on an API route stays a 405."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        first = scope.get("path", "").lstrip("/").split("/", 1)[0]
        if first in RESERVED_FIRST_SEGMENTS:
            return Match.NONE, {}
        return super().matches(scope)


async def index(request: Request) -> Response:
    """index.html for / and every deep link the app routes itself."""
    index_html = STATIC_DIR / INDEX
    return FILES.file_response(index_html, index_html.stat(), request.scope)


ROUTES = [
    Mount("/static", app=FILES, name="static"),
    _DeepLinkRoute("/{path:path}", index, methods=["GET", "HEAD"]),
]
