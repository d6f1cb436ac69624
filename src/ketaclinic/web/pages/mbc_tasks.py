"""Safety-task pages: one task with its details, and closing it with the action taken (a
prescriber or the director of the task's site; the action is required and recorded with who and
when). The start page lists open tasks through ``mbc.home_tasks``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from ketaclinic.bootstrap import Container
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.services import mbc_safety
from ketaclinic.web.deps import AppContainer, Csrf, IdPath, PageActor
from ketaclinic.web.templating import flash, render

router = APIRouter()


async def _form(request: Request) -> FormData:
    return await request.form()


Form = Annotated[FormData, Depends(_form)]


def _task_page(
    request: Request,
    c: Container,
    view: mbc_safety.TaskView,
    *,
    error: str | None = None,
    action: str = "",
    status: int = 200,
) -> Response:
    return render(
        request,
        "mbc/task.html",
        {
            "view": view,
            "now": c.clock.now(),
            "error": error,
            "action": action,
            "may_close": _may_close(request),
        },
        status=status,
    )


def _may_close(request: Request) -> bool:
    principal = getattr(request.state, "principal", None)
    return principal is not None and principal.role in mbc_safety.CLOSING_ROLES


@router.get("/safety-tasks/{task_id}", response_class=HTMLResponse)
def task_page(request: Request, task_id: IdPath, actor: PageActor, c: AppContainer) -> Response:
    with c.uow(readonly=True) as uow:
        view = mbc_safety.task_detail(uow, c.clock, actor, task_id)
    return _task_page(request, c, view)


@router.post("/safety-tasks/{task_id}/close", response_class=HTMLResponse, dependencies=[Csrf])
def close_task(
    request: Request, task_id: IdPath, actor: PageActor, c: AppContainer, form: Form
) -> Response:
    action = form.get("action")
    text = action[: mbc_safety.ACTION_MAX_CHARS + 1] if isinstance(action, str) else ""
    try:
        with c.uow() as uow:
            mbc_safety.close_task(uow, c.clock, actor, task_id, text)
    except InvalidInput as error:
        with c.uow() as uow:
            view = mbc_safety.task_detail(uow, c.clock, actor, task_id)
        return _task_page(request, c, view, error=error.message, action=text, status=422)
    flash(request, "Safety task closed; the action is recorded.")
    return RedirectResponse("/", status_code=303)
