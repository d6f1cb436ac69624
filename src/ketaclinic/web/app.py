"""The FastAPI application factory."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from importlib import resources
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

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

    @app.middleware("http")
    async def request_context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request_id = request.headers.get("x-request-id", "")[:64] or secrets.token_hex(8)
        request.state.request_id = request_id
        started = time.perf_counter()
        if _has_nul(request):
            # No text we store or search may hold a NUL (PostgreSQL refuses it); say so plainly.
            # This middleware runs outside the session middleware: the error page is rendered
            # as for a visitor without a session.
            request.scope.setdefault("session", {})
            response = errors.nul_response(request, "\x00" in request.url.path)
        else:
            response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if settings.is_production:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Request-ID"] = request_id
        principal = getattr(request.state, "principal", None)
        log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": request.method,
                # The route template, never the raw path or query (which may hold an MRN).
                "route": route_template(request),
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "user_id": principal.user_id if principal else None,
            },
        )
        return response

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)

    errors.install(app)
    static_dir = resources.files("ketaclinic.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static_dir)), name="static")
    app.include_router(api_router)
    app.include_router(pages_router)
    return app
