"""Request and response bodies of the account API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from billhook.accounts import passwords
from billhook.accounts.service import normalize_email
from billhook.errors import InvalidInput


def _email(value: str) -> str:
    try:
        return normalize_email(value)
    except InvalidInput:
        raise ValueError("not a valid email address") from None


Email = Annotated[str, Field(max_length=320), AfterValidator(_email)]
NewPassword = Annotated[str, Field(min_length=passwords.MIN_LENGTH, max_length=passwords.MAX_LENGTH)]


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: NewPassword


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, Field(min_length=1, max_length=320)]
    password: Annotated[str, Field(min_length=1, max_length=passwords.MAX_LENGTH)]


class AccessToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the OAuth token type)
    expires_at: datetime


class PasswordResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email


class PasswordResetConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: Annotated[str, Field(min_length=1, max_length=2000)]
    password: NewPassword


class Accepted(BaseModel):
    status: str
    message: str


class CsrfToken(BaseModel):
    csrf_token: str


class Me(BaseModel):
    id: str
    email: str
    role: str
    created_at: datetime
