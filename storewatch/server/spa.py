"""Serving the admin single-page app: its static files, and index.html for every deep link.

These routes go last in the route list. The fallback answers any GET that no API route
took with index.html, so a reload on /devices/pi-cam-1 works; it never answers under
/api/ or /metrics, where an unknown path stays the API's JSON 404.
"""

from __future__ import annotations

import hashlib
from email.utils import formatdate
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
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


def _file_response(request: Request, path: Path) -> Response:
    stat = path.stat()
    etag = '"' + hashlib.sha256(f"{stat.st_mtime_ns}-{stat.st_size}".encode()).hexdigest()[:20] + '"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "X-Content-Type-Options": "nosniff",
               "Last-Modified": formatdate(stat.st_mtime, usegmt=True), **DOCUMENT_HEADERS}
    if etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    body = b"" if request.method == "HEAD" else path.read_bytes()
    response = Response(body, media_type=CONTENT_TYPES[path.suffix], headers=headers)
    if request.method == "HEAD":
        response.headers["content-length"] = str(stat.st_size)
    return response


async def static_asset(request: Request) -> Response:
    path = _static_file(request.path_params["path"])
    if path is None:
        raise HTTPException(404, "No such file in the admin app.")
    return _file_response(request, path)


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
    return _file_response(request, STATIC_DIR / INDEX)


ROUTES = [
    Route("/static/{path:path}", static_asset, methods=["GET", "HEAD"]),
    _DeepLinkRoute("/{path:path}", index, methods=["GET", "HEAD"]),
]
