"""The API key: read from the config as the text the user typed, checked on every request before
anything else reads it.

Hydra parses `api_key=12345` as the integer 12345 (and `1_000` as 1000, `true` as a boolean), which
LitServe then compared with the header's text: every request got 401. `key_from` takes the
key's text from the command line itself. `KeyMiddleware` checks the header `X-API-Key` first in
the request's way, before the body is read or parsed (an unauthenticated request with a broken
body gets 401, not 400) and for every route but the page and its static files: /predict,
/health, /model and FastAPI's /docs, /redoc, /openapi.json all need the key.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from encdec.errors import ConfigError

HEADER = b"x-api-key"
#: What answers without the key: the page (it asks for the key) and its files.
OPEN_PATHS = ("/",)
OPEN_PREFIXES = ("/static/",)
REFUSED = "Invalid API Key. Check that you are passing a correct 'X-API-Key' in your header."


def _typed(overrides: Sequence[str], name: str) -> str | None:
    """The text after `name=` in the command line's overrides (`+name=`, `++name=` too)."""
    for override in overrides:
        key, sep, value = override.partition("=")
        if sep and key.strip().lstrip("+") == name:
            return value.strip()
    return None


def key_from(value: Any, overrides: Sequence[str] = ()) -> str | None:
    """The API key as text, or None for no key (unset or empty). A number or boolean is taken
    as typed on the command line (`overrides`); anything else is refused with one line."""
    if value is None:
        return None
    if not isinstance(value, str):
        typed = _typed(overrides, "api_key")
        if typed is None or not isinstance(value, int | float):
            raise ConfigError(
                f"api_key={value!r} is not text: quote it (api_key=\"'...'\") or set "
                "LIT_SERVER_API_KEY=<key> instead."
            )
        value = typed
    if value and (value != value.strip() or not value.isascii() or not value.isprintable()):
        raise ConfigError(
            "api_key: use printable ASCII without spaces at either end (an HTTP header carries it)."
        )
    return value or None


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


class KeyMiddleware:
    """ASGI middleware: 401 (JSON) unless the request's `X-API-Key` is the key, for every route
    but the page and its files; nothing of the request is read before the check."""

    def __init__(self, app: ASGIApp, key: str):
        self.app, self.key = app, key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not is_open(scope["path"]):
            given = next((v for k, v in scope["headers"] if k.lower() == HEADER), b"")
            if not hmac.compare_digest(given, self.key):
                await JSONResponse({"error": REFUSED}, status_code=401)(scope, receive, send)
                return
        await self.app(scope, receive, send)
