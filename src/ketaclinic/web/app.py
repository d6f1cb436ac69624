"""The FastAPI application factory."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from importlib import resources
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ketaclinic import __version__
from ketaclinic.adapters import chair_sweeper
from ketaclinic.bootstrap import Container
from ketaclinic.web import errors
from ketaclinic.web.api import router as api_router
from ketaclinic.web.deps import LoginRequired
from ketaclinic.web.pages import router as pages_router

log = logging.getLogger("ketaclinic.web")

# No inline scripts or styles anywhere: the pages load /static files only.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _has_nul(request: Request) -> bool:
    query = request.scope.get("query_string", b"")
    return b"%00" in query.lower() or b"\x00" in query or "\x00" in request.url.path


def route_template(request: Request) -> str:
    """The request path with path parameters put back as ``{name}``: ids never reach the log
    as values, and the query string (which may hold an MRN) is left out entirely."""
    if request.scope.get("route") is None:
        return "<unmatched>"
    segments = request.url.path.split("/")
    names = {str(value): name for name, value in request.path_params.items()}
    return "/".join(f"{{{names[s]}}}" if s in names else s for s in segments)


def lifespan(container: Container) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """What runs beside the requests: the chair's background sweep (adapters/chair_sweeper.py),
    unless the settings turn it off."""

    @asynccontextmanager
    async def run(_app: FastAPI) -> AsyncIterator[None]:
        started = chair_sweeper.start(container)
        try:
            yield
        finally:
            await chair_sweeper.stop(started)

    return run


class RequestContext:
    """Every HTTP request gets an id (kept from ``X-Request-ID`` or made), the security headers,
    ``Cache-Control: no-store`` outside /static, and one structured log line with the route
    template, status and duration — never the path's values or the query. A NUL in the path or
    query is answered here with a 422 page.

    Pure ASGI (not ``@app.middleware("http")``): Starlette's BaseHTTPMiddleware runs every
    request through an extra task and memory streams, which cost more than a chart read."""

    def __init__(self, app: ASGIApp, *, production: bool) -> None:
        self.app = app
        self.production = production

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        request_id = request.headers.get("x-request-id", "")[:64] or secrets.token_hex(8)
        request.state.request_id = request_id
        started = time.perf_counter()
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if self.production:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
                if not scope["path"].startswith("/static/"):
                    headers.setdefault("Cache-Control", "no-store")
                headers["X-Request-ID"] = request_id
            await send(message)

        if _has_nul(request):
            # No text we store or search may hold a NUL (PostgreSQL refuses it); say so plainly.
            # This runs outside the session middleware: the error page is rendered as for a
            # visitor without a session.
            scope.setdefault("session", {})
            response = errors.nul_response(request, "\x00" in request.url.path)
            await response(scope, receive, send_with_headers)
        else:
            await self.app(scope, receive, send_with_headers)
        principal = getattr(request.state, "principal", None)
        log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": request.method,
                # The route template, never the raw path or query (which may hold an MRN).
                "route": route_template(request),
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "user_id": principal.user_id if principal else None,
            },
        )


def create_app(container: Container) -> FastAPI:
    app = FastAPI(
        lifespan=lifespan(container),
        title="ketaclinic API",
        version=__version__,
        description="JSON API of ketaclinic (DESIGN.md §4.3). Errors: "
        '`{"error": {"code", "message", "field"?}}`.',
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.container = container
    settings = container.settings

    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.effective_secret_key(),
        session_cookie="ketaclinic_session",
        max_age=settings.session_max_age_s,
        same_site="lax",
        https_only=settings.is_production,
    )

    app.add_middleware(RequestContext, production=settings.is_production)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)

    errors.install(app)
    static_dir = resources.files("ketaclinic.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static_dir)), name="static")
    app.include_router(api_router)
    app.include_router(pages_router)
    return app
