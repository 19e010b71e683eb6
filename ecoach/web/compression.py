"""Compressed responses: pages, scripts, styles, JSON and calendars leave gzip-compressed
when the client accepts it (a booking page: about 12 KB becomes 3 KB).

Behind the shipped nginx (deploy/nginx.conf, ``gzip on``) nginx passes the compressed body
through as it is. Pages carry secrets (CSRF tokens, links) next to text an attacker may
influence, the setting BREACH attacks compressed HTTPS in: the CSRF token differs in every
response (masked, web/security.py), and nothing is compressed below ``MIN_BYTES``.
"""

from __future__ import annotations

from aiohttp import hdrs, web

from ecoach.web.security import Handler

MIN_BYTES = 1024
TYPES = ("text/", "application/javascript", "application/json", "image/svg+xml")


STATIC = (".css", ".js", ".svg")


def _compressible(request: web.Request, response: web.StreamResponse) -> bool:
    if isinstance(response, web.FileResponse):  # its type is known only once it is sent
        return request.path.endswith(STATIC)
    if type(response) is not web.Response or response.body is None:
        return False
    body = response.body
    size = len(body) if isinstance(body, (bytes, bytearray)) else response.content_length or 0
    return size >= MIN_BYTES and response.content_type.startswith(TYPES)


@web.middleware
async def compression_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if (
        "gzip" in request.headers.get(hdrs.ACCEPT_ENCODING, "").lower()
        and hdrs.CONTENT_ENCODING not in response.headers
        and not response.prepared
        and _compressible(request, response)
    ):
        response.enable_compression(web.ContentCoding.gzip)
        vary = response.headers.get(hdrs.VARY)
        if not vary or "accept-encoding" not in vary.lower():
            response.headers[hdrs.VARY] = f"{vary}, Accept-Encoding" if vary else "Accept-Encoding"
    return response
