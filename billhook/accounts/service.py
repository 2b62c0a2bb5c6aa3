"""Accounts: register, sign in and out, reset a password, manage roles. Services only flush.

Email addresses are compared lower-cased and stripped. Unknown emails and wrong passwords get
the same answer (and the same argon2 cost), so sign-in does not reveal who has an account.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.accounts import passwords, repository
from billhook.accounts.errors import EmailTaken, InvalidCredentials, TokenUsed
from billhook.accounts.policy import AccountPolicy
from billhook.accounts.tokens import ACCESS, PASSWORD_RESET, TokenClaims, TokenSigner, expiry
from billhook.cache import BillhookCache
from billhook.errors import InvalidInput, NotFound, Unauthorized
from billhook.models import User
from billhook.outbox.contracts import SEND_EMAIL, SendEmail

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_ROLE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def normalize_email(email: str) -> str:
    """Lower-cased and stripped; raises :class:`InvalidInput` naming the field when malformed."""
    normalized = email.strip().lower()
    if len(normalized) > 320 or not _EMAIL.match(normalized):
        raise InvalidInput("email: not a valid email address", field="email")
    return normalized


def check_password_policy(password: str) -> str:
    if len(password) < passwords.MIN_LENGTH:
        raise InvalidInput(f"password: use at least {passwords.MIN_LENGTH} characters", field="password")
    if len(password) > passwords.MAX_LENGTH:
        raise InvalidInput(f"password: use at most {passwords.MAX_LENGTH} characters", field="password")
    return password


def check_role(role: str) -> str:
    if not _ROLE.match(role):
        raise InvalidInput(f"role: {role!r} is not a role name (lower-case letters, digits, _)")
    return role


@dataclass(frozen=True, slots=True)
class PasswordLink:
    url: str
    claims: TokenClaims


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    claims: TokenClaims


class Accounts:
    """The account service, built per request or command with its collaborators."""

    def __init__(
        self,
        session: AsyncSession,
        signer: TokenSigner,
        secret_key: str,
        policy: AccountPolicy,
        hasher: passwords.Passwords,
    ) -> None:
        self.session = session
        self.signer = signer
        self.secret_key = secret_key
        self.policy = policy
        self.passwords = hasher

    async def create_user(self, email: str, password: str | None, *, role: str = "free") -> User:
        email = normalize_email(email)
        check_role(role)
        password_hash = self.passwords.hash(check_password_policy(password)) if password else None
        if await repository.by_email(self.session, email) is not None:
            raise EmailTaken(f"an account with {email} already exists; sign in or reset the password")
        user = User(email=email, password_hash=password_hash, role=role)
        self.session.add(user)
        try:
            await self.session.flush()
        except IntegrityError:  # a concurrent registration won the unique index
            raise EmailTaken(f"an account with {email} already exists") from None
        return user

    async def sign_up(self, email: str, password: str) -> User:
        """A customer's own sign-up: the account, and a welcome email once (keyed by the user)."""
        user = await self.create_user(email, password)
        payload = SendEmail(template="signup_welcome", to=user.email, context={"name": user.name})
        await SEND_EMAIL.enqueue(self.session, payload, key=f"email:signup_welcome:{user.email}:{user.id}")
        return user

    async def authenticate(self, email: str, password: str) -> User:
        user = await repository.by_email(self.session, email.strip().lower())
        valid = self.passwords.verify(user.password_hash if user else None, password)
        if user is None or not valid or not user.is_active:
            raise InvalidCredentials("email or password is incorrect")
        if user.password_hash and self.passwords.needs_rehash(user.password_hash):
            user.password_hash = self.passwords.hash(password)
            await self.session.flush()
        return user

    def issue_session(self, user: User, now: datetime) -> IssuedToken:
        token, claims = self.signer.issue(
            ACCESS, user.id, self.fingerprint(user), expiry(now, self.policy.session_ttl)
        )
        return IssuedToken(token, claims)

    def fingerprint(self, user: User) -> str:
        return passwords.fingerprint(self.secret_key, user.password_hash)

    async def user_for_session(self, token: str, now: datetime, cache: BillhookCache) -> User:
        """The signed-in user behind an access token; 401 when forged, expired, revoked or stale."""
        claims = self.signer.read_unexpired_or_not(ACCESS, token)
        if claims is None or claims.expires_at <= now:
            raise Unauthorized("sign in again: the session is missing, invalid or expired")
        if await cache.exists("revoked-session", claims.token_id):
            raise Unauthorized("sign in again: this session was signed out")
        user = await repository.get(self.session, claims.user_id)
        if user is None or not user.is_active or claims.fingerprint != self.fingerprint(user):
            raise Unauthorized("sign in again: the session is no longer valid")
        return user

    async def revoke_session(self, claims: TokenClaims, now: datetime, cache: BillhookCache) -> None:
        """Deny-list the token id until the token would have expired anyway."""
        remaining = (claims.expires_at - now).total_seconds()
        if remaining > 0:
            await cache.set("revoked-session", claims.token_id, value=1, ttl_seconds=remaining)

    async def request_password_reset(
        self, email: str, *, base_url: str, now: datetime, cache: BillhookCache
    ) -> bool:
        """Enqueue a reset email for a known, active user; True when one was enqueued."""
        try:
            email = normalize_email(email)
        except InvalidInput:
            return False
        user = await repository.by_email(self.session, email)
        if user is None or not user.is_active:
            return False
        sent = await cache.incr("password-reset-requests", user.id, ttl_seconds=3600)
        if sent > self.policy.reset_emails_per_hour:
            return False
        link = self.password_link(user, base_url=base_url, now=now)
        claims = link.claims
        payload = SendEmail(
            template="password_reset",
            to=user.email,
            # The keys the notifications' password_reset template renders (strictly).
            context={
                "reset_url": link.url,
                "name": user.name or user.email.split("@", 1)[0],
                "link_valid_hours": max(1, round(self.policy.reset_ttl.total_seconds() / 3600)),
                "email": user.email,
                "expires_at": claims.expires_at.isoformat(),
            },
            key_object=claims.token_id,
        )
        key = f"email:password_reset:{user.email}:{claims.token_id}"
        return await SEND_EMAIL.enqueue(self.session, payload, key=key)

    def password_link(
        self, user: User, *, base_url: str, now: datetime, ttl: timedelta | None = None
    ) -> PasswordLink:
        """A single-use link to choose a password (reset, or the welcome email's "set password").

        It stops working once any password is set: the token carries the current hash's
        fingerprint (a user without a password has the fingerprint of the empty hash).
        """
        token, claims = self.signer.issue(
            PASSWORD_RESET, user.id, self.fingerprint(user), expiry(now, ttl or self.policy.reset_ttl)
        )
        return PasswordLink(f"{base_url}/reset?token={token}", claims)

    async def find_or_create_by_email(self, email: str, *, name: str | None = None) -> tuple[User, bool]:
        """The user with this email, or a new passwordless ``free`` user; True when created.

        For a checkout by an unknown email: run it again with the same email and it finds the
        user instead of making a second one (the unique index settles concurrent attempts).
        """
        email = normalize_email(email)
        existing = await repository.by_email(self.session, email)
        if existing is not None:
            return existing, False
        user = User(email=email, name=name, role="free")
        try:
            async with self.session.begin_nested():
                self.session.add(user)
        except IntegrityError:
            winner = await repository.by_email(self.session, email)
            assert winner is not None
            return winner, False
        return user, True

    async def confirm_password_reset(self, token: str, password: str, now: datetime) -> User:
        """Set a new password from a reset token; the token dies with the old password hash."""
        check_password_policy(password)
        claims = self.signer.read(PASSWORD_RESET, token, now)
        user = await repository.get(self.session, claims.user_id)
        if user is None or not user.is_active:
            raise TokenUsed("this reset link is no longer valid; request a new one")
        if claims.fingerprint != self.fingerprint(user):
            raise TokenUsed("this reset link was already used; request a new one")
        user.password_hash = self.passwords.hash(password)
        await self.session.flush()
        return user

    async def set_role(self, email: str, role: str) -> User:
        user = await self.require_by_email(email)
        user.role = check_role(role)
        await self.session.flush()
        return user

    async def require_by_email(self, email: str) -> User:
        user = await repository.by_email(self.session, email.strip().lower())
        if user is None:
            raise NotFound(f"no user with email {email.strip().lower()}")
        return user


def generate_password() -> str:
    return secrets.token_urlsafe(15)
