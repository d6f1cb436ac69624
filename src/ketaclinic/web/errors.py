"""The one place where the exception tree becomes an HTTP response.

API paths (``/api/``) get the JSON shape of DESIGN.md §4.3, ``{"error": {"code", "message",
"field"?}}``; pages get the error page. An unexpected exception is logged with the request id
(never with request data) and answered with a generic 500 that carries the id — and is a bug.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ketaclinic.domain.errors import (
    Conflict,
    InvalidInput,
    KetaclinicError,
    NotAuthenticated,
    NotFound,
    OverrideRequired,
    PermissionDenied,
)
from ketaclinic.web.throttle import TooManyRequests

log = logging.getLogger("ketaclinic.web")

STATUS: list[tuple[type[KetaclinicError], int]] = [
    (TooManyRequests, 429),
    (InvalidInput, 422),
    (NotFound, 404),
    (NotAuthenticated, 401),
    (PermissionDenied, 403),
    (Conflict, 409),
    (OverrideRequired, 409),
]

HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
}


def status_for(error: KetaclinicError) -> int:
    for cls, status in STATUS:
        if isinstance(error, cls):
            return status
    return 400


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if field:
        body["field"] = field
    return {"error": body}


def _render(request: Request, status: int, code: str, message: str, field: str | None) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 and is_api(request) else None
    if is_api(request):
        return JSONResponse(error_body(code, message, field), status_code=status, headers=headers)
    from ketaclinic.web.templating import render_error

    return render_error(request, status, message)


def describe_validation(exc: RequestValidationError) -> tuple[str, str | None]:
    """One clear sentence from pydantic's first error: field, value, expectation."""
    errors = exc.errors()
    if not errors:
        return "the request is not valid", None
    first = errors[0]
    loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    field = ".".join(loc) or None
    message = str(first.get("msg", "is not valid"))
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON", None
    value = first.get("input")
    shown = repr(value) if value is not None and not isinstance(value, dict) else ""
    if len(shown) > 60:
        shown = shown[:57] + "..."
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    got = f"got {shown}, " if shown else ""
    return f"{field or 'request'}: {got}{message.lower()}{more}", field


def nul_response(request: Request, in_path: bool) -> Response:
    where = "path" if in_path else "query"
    return _render(
        request,
        422,
        "invalid_input",
        f"{where}: contains a NUL character, which is never valid",
        None,
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(KetaclinicError)
    async def _domain(request: Request, exc: KetaclinicError) -> Response:
        return _render(request, status_for(exc), exc.code, exc.message, exc.field)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        message, field = describe_validation(exc)
        return _render(request, 422, "invalid_input", message, field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = HTTP_CODES.get(exc.status_code, "error")
        message = str(exc.detail) if exc.detail else code.replace("_", " ")
        response = _render(request, exc.status_code, code, message, None)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        request_id = getattr(request.state, "request_id", "-")
        log.error(
            "unhandled error",
            extra={"request_id": request_id, "error_type": type(exc).__name__},
        )
        return _render(
            request,
            500,
            "internal_error",
            f"Something went wrong on our side (request {request_id}). Nothing was changed.",
            None,
        )
