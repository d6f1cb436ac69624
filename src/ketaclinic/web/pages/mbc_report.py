"""The director's outcome report: PCL-5 cohort outcomes of their sites over a date range
(services/mbc_cohort.py), as a page and as CSV."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.services import mbc_cohort
from ketaclinic.web.deps import AppContainer, PageActor
from ketaclinic.web.templating import render

router = APIRouter()


def _report_dates(start: str, end: str) -> tuple[dt.date | None, dt.date | None]:
    def parse(field: str, text: str) -> dt.date | None:
        if not text:
            return None
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise InvalidInput.for_field(field, text, "a date like 2026-11-20") from None

    return parse("from", start), parse("to", end)


@router.get("/reports/outcomes", response_class=HTMLResponse)
def outcome_report_page(
    request: Request,
    actor: PageActor,
    c: AppContainer,
    start: Annotated[str, Query(alias="from", max_length=10)] = "",
    end: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> Response:
    values = {"from": start, "to": end}
    try:
        first, last = _report_dates(start, end)
        with c.uow(readonly=True) as uow:
            report = mbc_cohort.outcome_report(uow, c.clock, actor, start=first, end=last)
    except InvalidInput as error:
        context = {"report": None, "values": values, "error": error.message}
        context["error_field"] = error.field
        return render(request, "mbc/report.html", context, status=422)
    query = "&".join(f"{k}={v}" for k, v in values.items() if v)
    return render(
        request,
        "mbc/report.html",
        {"report": report, "values": values, "error": None, "csv_query": query},
    )


@router.get("/reports/outcomes.csv")
def outcome_report_csv(
    actor: PageActor,
    c: AppContainer,
    start: Annotated[str, Query(alias="from", max_length=10)] = "",
    end: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> Response:
    first, last = _report_dates(start, end)
    with c.uow(readonly=True) as uow:
        report = mbc_cohort.outcome_report(uow, c.clock, actor, start=first, end=last)
    name = f"pcl5-outcomes-{first or 'start'}-{last or 'today'}.csv"
    return Response(
        content=mbc_cohort.report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
