"""Jinja2 set-up for the server-rendered pages: one environment, autoescaping on, the i18n
extension loaded so patient-facing strings go through gettext, and helpers every page needs
(navigation per role, CSRF token, flash messages)."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context

from ketaclinic.domain.people import Principal, Role
from ketaclinic.web import i18n

TEMPLATES_DIR = str(resources.files("ketaclinic.web") / "templates")


@dataclass(frozen=True, slots=True)
class NavItem:
    href: str
    label: str
    roles: frozenset[Role]


ALL = frozenset(Role)
CLINICAL = frozenset({Role.NURSE, Role.PRESCRIBER, Role.DIRECTOR})

# Later capabilities add their entries here; the browser tests check each role's menu.
NAVIGATION: list[NavItem] = [
    NavItem("/", "Today", ALL),
    NavItem("/patients", "Patients", ALL),
    NavItem("/schedule", "Schedule", ALL),
    NavItem("/board", "Chairs", CLINICAL),
    NavItem("/pk", "PK", CLINICAL),
    NavItem("/leads", "Leads", frozenset({Role.FRONT_DESK, Role.DIRECTOR})),
    NavItem("/admin/audit", "Audit", frozenset({Role.DIRECTOR})),
    NavItem("/admin/data", "Data", frozenset({Role.DIRECTOR})),
    NavItem("/reports/outcomes", "Outcomes", frozenset({Role.DIRECTOR})),
    NavItem("/admin/protocols", "Set-up", frozenset({Role.DIRECTOR})),
    NavItem("/admin/drug-library", "Drug library", frozenset({Role.DIRECTOR})),
]


def nav_for(principal: Principal | None) -> list[NavItem]:
    if principal is None:
        return []
    return [item for item in NAVIGATION if principal.role in item.roles]


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "xml"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    i18n.install(env)  # per-request gettext: the language is the template's ``lang``
    env.filters["date"] = _format_date
    env.filters["datetime"] = _format_datetime
    return env


def _format_date(value: dt.date | None) -> str:
    return value.strftime("%d %b %Y") if value else ""


@pass_context
def _format_datetime(context: Context, value: dt.datetime | None) -> str:
    """A stored time as staff read it: in the zone of the site they are working at (the
    active site; UTC when there is none), with the zone's abbreviation, e.g. ``24 Nov 2026
    16:05 EST``. Stored times are UTC; one without a zone is taken as UTC."""
    if value is None:
        return ""
    site = context.get("active_site")
    here = zone(site.timezone) if site is not None else dt.UTC
    moment = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    local = moment.astimezone(here)
    return f"{local:%d %b %Y %H:%M} {local.tzname() or 'UTC'}"


def zone(name: str) -> dt.tzinfo:
    """A site's time zone by its IANA name; UTC if the name is not one (a site's zone is
    checked when it is saved: a page never fails on it)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


templates = Jinja2Templates(env=_environment())


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    principal: Principal | None = getattr(request.state, "principal", None)
    base: dict[str, Any] = {
        "principal": principal,
        "nav": nav_for(principal),
        "csrf_token": csrf_token(request),
        "path": request.url.path,
        "sites": getattr(request.state, "sites", []),
        "active_site": getattr(request.state, "active_site", None),
        "flash": request.session.pop("flash", None),
        "org_name": getattr(request.state, "org_name", "ketaclinic"),
    }
    base.update(context or {})
    return templates.TemplateResponse(request, template, base, status_code=status)


def flash(request: Request, message: str) -> None:
    request.session["flash"] = message


def render_error(request: Request, status: int, message: str) -> HTMLResponse:
    if _is_visitor(request):
        return _render_visitor_error(request, status)
    titles = {
        401: "Please sign in",
        403: "Not allowed",
        404: "Not found",
        409: "Conflict",
        422: "Please check what you entered",
        429: "Too many attempts",
        500: "Something went wrong",
    }
    return render(
        request,
        "error.html",
        {"status": status, "title": titles.get(status, "Error"), "message": message},
        status=status,
    )


def _is_visitor(request: Request) -> bool:
    """No staff member is signed in (the error may come before any page resolved who it is)."""
    if getattr(request.state, "principal", None) is not None:
        return False
    session = request.scope.get("session") or {}
    return not isinstance(session.get("uid"), int)


def _render_visitor_error(request: Request, status: int) -> HTMLResponse:
    """The error page for a visitor or patient (no staff session): in their language, with the
    language switch, a plain explanation and a way back; the technical detail stays in the log."""
    choice = i18n.negotiate(request)
    title, explanation = i18n.visitor_error(choice.lang, status)
    context = {
        **i18n.page_context(request, choice),
        "org_name": _organisation_name(request),
        "status": status,
        "title": title,
        "message": explanation,
        "request_id": getattr(request.state, "request_id", ""),
    }
    return render(request, "public/error.html", context, status=status)


def _organisation_name(request: Request) -> str:
    """The clinic's name for a visitor's page; the product's name if it cannot be read (the
    error being shown may be the database's own)."""
    container = getattr(request.app.state, "container", None)
    if container is None:
        return "ketaclinic"
    try:
        with container.uow(readonly=True) as uow:
            return str(uow.sites.organisation_name() or "ketaclinic")
    except Exception:  # an error page must render whatever else is broken
        return "ketaclinic"
