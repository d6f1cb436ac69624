"""Every integer in a path is bounded (``IdPath``): an id too large for the database's integer
column is a 422 naming the field, never a driver overflow (Schemathesis found such a 500)."""

from __future__ import annotations

from fastapi.routing import APIRoute

from ketaclinic.web.deps import MAX_ID


def _routes(routes: list[object]) -> list[APIRoute]:
    found: list[APIRoute] = []
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:
            found += _routes(original.routes)
        elif isinstance(route, APIRoute):
            found.append(route)
    return found


def test_every_integer_path_parameter_has_an_upper_bound(demo: object) -> None:
    from ketaclinic.web.app import create_app

    unbounded = []
    routes = _routes(create_app(demo).routes)
    assert len(routes) > 50  # the walk reaches the included routers
    for route in routes:
        for param in route.dependant.path_params:
            if param.field_info.annotation is not int:
                continue
            bounds = [getattr(m, "le", None) for m in param.field_info.metadata]
            if MAX_ID not in bounds:
                unbounded.append(f"{sorted(route.methods)} {route.path}: {param.name}")
    assert not unbounded, unbounded


def test_an_id_beyond_the_database_integer_is_a_named_422(client: object, token_for) -> None:
    response = client.post(
        f"/api/v1/patients/{2**63}/intake", json={}, headers=token_for("prescriber.mia")
    )
    assert response.status_code == 422
    assert "patient_id" in response.text
