"""``/dev/mailbox``: every email the local mailbox sender kept, for a person trying Billhook.

Served only while the mailbox is the active sender and never in production (anything else
answers 404): the messages hold password links. The HTML part is
shown inside a sandboxed ``iframe`` (``srcdoc``, no scripts, no same-origin access).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from billhook.config import Environment
from billhook.errors import NotFound
from billhook.http.deps import RuntimeDep, SessionDep
from billhook.kit.formatting import format_datetime
from billhook.notifications import MAILBOX_PATH, repository
from billhook.notifications.repository import EmailStatus
from billhook.runtime import Runtime

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters.update(datetime=format_datetime)  # the one formatter (billhook.kit.formatting)
PAGE_SIZE = 100


def require_mailbox(runtime: RuntimeDep) -> Runtime:
    """404 unless the mailbox is the sender, and never in production.

    The mailbox holds password-set and reset links; a production deployment that forgot its
    mail settings must not publish them to anyone who finds this path.
    """
    if runtime.mailer is None or runtime.mailer.name != "mailbox":
        raise NotFound("the local mailbox is only available when no SMTP or Mailgun sender is set")
    if runtime.settings.billhook_env is Environment.PRODUCTION:
        raise NotFound("the local mailbox is not served in production")
    return runtime


router = APIRouter(prefix=MAILBOX_PATH, tags=["mailbox"], dependencies=[Depends(require_mailbox)])


@router.get("", response_class=HTMLResponse, summary="Messages kept by the local mailbox")
async def mailbox_list(
    request: Request,
    session: SessionDep,
    status: Annotated[EmailStatus | None, Query(description="queued, sent or failed")] = None,
) -> HTMLResponse:
    messages = await repository.list_messages(session, status=status, limit=PAGE_SIZE)
    return templates.TemplateResponse(
        request,
        "mailbox/list.html",
        {"messages": messages, "status": status, "statuses": list(EmailStatus), "base": MAILBOX_PATH},
    )


@router.get("/{message_id}", response_class=HTMLResponse, summary="One message, HTML and text parts")
async def mailbox_message(request: Request, session: SessionDep, message_id: str) -> HTMLResponse:
    message = await repository.get(session, message_id)
    if message is None:
        raise NotFound(f"no message {message_id!r} in the mailbox")
    return templates.TemplateResponse(
        request, "mailbox/message.html", {"message": message, "base": MAILBOX_PATH}
    )
