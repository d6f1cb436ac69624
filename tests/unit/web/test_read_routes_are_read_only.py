"""Every GET route (page and API) reads in a read-only unit of work: on SQLite such a unit takes
no write lock, so a page never queues behind the monitor feed's commits, and its audit entries
go out with the group commit (adapters/db/uow.py). The route table is the app's own; a route's
body and the page helpers it calls in its module are searched for ``.uow(…)`` calls.

A write slipped into a read-only unit fails at once on SQLite (``PRAGMA query_only``), which
the HTTP suites would show; this test catches the other mistake: a new GET route that opens a
write unit where it only reads."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterator
from types import FunctionType

from fastapi.routing import APIRoute

from ketaclinic.web.api import router as api_router
from ketaclinic.web.pages import router as pages_router
from ketaclinic.web.policy import walk_routes

# GET routes that write on purpose, with why.
WRITES_ON_PURPOSE = {
    # The export's own audit entry is written in its transaction, so the Bundle's access log
    # holds it.
    "/api/v1/patients/{patient_id}/fhir",
    "/admin/data/fhir",
}


def get_routes() -> Iterator[tuple[str, APIRoute]]:
    """(full path, route) of every GET route, through the included routers."""
    for router in (api_router, pages_router):
        for base, route in walk_routes(router.routes):
            if isinstance(route, APIRoute) and "GET" in route.methods:
                yield base + route.path, route


def functions_reached(fn: Callable[..., object], depth: int = 2) -> Iterator[FunctionType]:
    """``fn`` and the functions of the web package it calls by name, ``depth`` calls deep."""
    if not isinstance(fn, FunctionType):
        return
    yield fn
    if depth == 0:
        return
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    names = {
        n.func.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    for name in sorted(names):
        found = fn.__globals__.get(name)
        if isinstance(found, FunctionType) and found.__module__.startswith("ketaclinic.web"):
            yield from functions_reached(found, depth - 1)


def write_units(fn: FunctionType) -> list[int]:
    """Line numbers (in ``fn``'s file) of ``….uow()`` calls without ``readonly=True``."""
    source = textwrap.dedent(inspect.getsource(fn))
    first = fn.__code__.co_firstlineno
    return [
        first + node.lineno - 1
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "uow"
        and not any(
            k.arg == "readonly" and isinstance(k.value, ast.Constant) and k.value.value is True
            for k in node.keywords
        )
    ]


def test_get_routes_open_only_read_only_units_of_work() -> None:
    offenders = []
    routes = list(get_routes())
    for path, route in routes:
        if path in WRITES_ON_PURPOSE:
            continue
        for fn in functions_reached(route.endpoint):
            lines = write_units(fn)
            if lines:
                where = f"{inspect.getsourcefile(fn)}:{lines[0]}"
                offenders.append(f"GET {path}: {fn.__name__} ({where})")
    assert len(routes) > 50  # the whole app's table, not an empty router
    assert offenders == []


def test_the_exceptions_are_real_get_routes_that_write() -> None:
    paths = dict(get_routes())
    for path in WRITES_ON_PURPOSE:
        assert path in paths, f"{path} is no longer a GET route: drop it from the list"
        reached = list(functions_reached(paths[path].endpoint))
        assert any(write_units(fn) for fn in reached), f"{path} no longer opens a write unit"
