"""The console's accounts, sign-in attempts and access journal, in the database.

Every sign-in (good or refused), every page that shows personal data and every action is an
Event of kind `web-...` whose cause names the account ("lea@region.fr (coordinator): ..."):
the *Journal des accès* lists them, and so does `mailflow log --actions --kind web`; one
about a request is linked to it, so `person export` shows who looked at the person's data.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from peewee import fn

from mailflow.clock import stamp, utc_iso
from mailflow.errors import MailflowError
from mailflow.store.models import Event, Setting, WebAccount, WebSignin, database
from mailflow.store.record import log_event
from mailflow.web.auth import (
    ROLES,
    ConsoleRules,
    check_password,
    hash_password,
    password_problem,
    refusal,
)

SECRET_KEY = "web-session-secret"  # Setting: the key that signs the session cookies
KIND_PREFIX = "web-"


def session_secret() -> str:
    """The installation's signing key, made on the console's first start and kept."""
    with database.atomic():
        row = Setting.get_or_none(Setting.key == SECRET_KEY)
        if row is None:
            row = Setting.create(key=SECRET_KEY, value=secrets.token_urlsafe(32))
    return row.value


def _email(text: str) -> str:
    try:
        found = validate_email(text.strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise MailflowError(f"{text!r} is not a valid address ({exc})") from exc
    return found.normalized.lower()


def add_account(email: str, role: str, password: str) -> WebAccount:
    if role not in ROLES:
        raise MailflowError(f"--role {role!r}: one of {', '.join(ROLES)}")
    problem = password_problem(password)
    if problem:
        raise MailflowError(problem)
    address = _email(email)
    with database.atomic():
        if WebAccount.get_or_none(WebAccount.email == address) is not None:
            raise MailflowError(f"an account {address} exists already")
        account = WebAccount.create(
            email=address, role=role, password_hash=hash_password(password), created_at=stamp()
        )
        log_event("web-account", f"console account {address} added ({role})")
    return account


def accounts() -> list[WebAccount]:
    return list(WebAccount.select().order_by(WebAccount.email))


def disable_account(email: str) -> WebAccount:
    """Cannot sign in any more; its open sessions end at their next page."""
    address = email.strip().lower()
    with database.atomic():
        account = WebAccount.get_or_none(WebAccount.email == address)
        if account is None:
            raise MailflowError(f"no console account {address}")
        if not account.active:
            raise MailflowError(f"the account {address} is already disabled")
        WebAccount.update(
            active=False, disabled_at=stamp(), generation=WebAccount.generation + 1
        ).where(WebAccount.id == account.id).execute()
        log_event("web-account", f"console account {address} disabled")
    return WebAccount.get_by_id(account.id)


def signed_in_account(account_id: int | None, generation: int) -> WebAccount | None:
    """The session's account, if it may still use the console."""
    if account_id is None:
        return None
    account = WebAccount.get_or_none(WebAccount.id == account_id)
    if account is None or not account.active or account.generation != generation:
        return None
    return account


def sign_out(account: WebAccount) -> None:
    with database.atomic():
        WebAccount.update(generation=WebAccount.generation + 1).where(
            WebAccount.id == account.id
        ).execute()
        record(account, "web-signout", "signed out")


@dataclass(frozen=True)
class Attempt:
    account: WebAccount | None  # signed in
    refused: str | None = None  # French, for the form


WRONG = "Adresse ou mot de passe incorrect."


def _failures(now: datetime, email: str, client: str, rules: ConsoleRules) -> tuple[list, list]:
    last_ok = (
        WebSignin.select(fn.MAX(WebSignin.at))
        .where((WebSignin.email == email) & WebSignin.ok)
        .scalar()
    )
    by_account = WebSignin.select(WebSignin.at).where(
        (WebSignin.email == email) & ~WebSignin.ok & (WebSignin.at > (last_ok or datetime.min))
    )
    by_client = WebSignin.select(WebSignin.at).where(
        (WebSignin.client == client) & ~WebSignin.ok & (WebSignin.at > now - rules.address_window)
    )
    return (
        [r.at for r in by_account.order_by(WebSignin.at, WebSignin.id)],
        [r.at for r in by_client.order_by(WebSignin.at, WebSignin.id)],
    )


def attempt(email: str, password: str, client: str, rules: ConsoleRules) -> Attempt:
    """Check one sign-in, within the limits, and record it."""
    address = email.strip().lower()[:320]
    client = client[:64]
    now = stamp()
    by_account, by_client = _failures(now, address, client, rules)
    refused = refusal(by_account, by_client, now, rules)
    account = WebAccount.get_or_none(WebAccount.email == address)
    good = (
        refused is None
        and account is not None
        and account.active
        and check_password(account.password_hash, password)
    )
    with database.atomic():
        WebSignin.create(at=now, email=address, client=client, ok=good)
        if good:
            WebAccount.update(last_signin_at=now).where(WebAccount.id == account.id).execute()
            record(account, "web-signin", f"signed in from {client}")
            return Attempt(WebAccount.get_by_id(account.id))
        why = "limits reached" if refused else "wrong address or password"
        log_event("web-signin-refused", f"sign-in refused for {address} from {client}: {why}")
    return Attempt(None, refused or WRONG)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_link(email: str, rules: ConsoleRules) -> tuple[WebAccount, str] | None:
    """A new sign-in link's secret for the active account of `email` (the last one is then
    worth nothing), or None: no such account, or a link went to it a moment ago. Only its
    digest is kept on the account; the caller mails the secret, in the same transaction."""
    account = WebAccount.get_or_none(WebAccount.email == email.strip().lower()[:320])
    now = stamp()
    if account is None or not account.active:
        return None
    if account.link_sent_at and now - account.link_sent_at < rules.link_interval:
        return None
    token = secrets.token_urlsafe(32)
    WebAccount.update(
        link_hash=_digest(token), link_expires_at=now + rules.link_lifetime, link_sent_at=now
    ).where(WebAccount.id == account.id).execute()
    record(account, "web-signin-link", "a sign-in link was mailed")
    return WebAccount.get_by_id(account.id), token


def use_link(token: str, client: str) -> WebAccount | None:
    """The account a mailed link signs in, once and before it expires; None otherwise."""
    if not token:
        return None
    now = stamp()
    with database.atomic():
        account = WebAccount.get_or_none(WebAccount.link_hash == _digest(token))
        if account is None or not account.active or (account.link_expires_at or now) <= now:
            log_event("web-signin-refused", f"sign-in link refused from {client[:64]}")
            return None
        WebAccount.update(link_hash=None, link_expires_at=None, last_signin_at=now).where(
            WebAccount.id == account.id
        ).execute()
        WebSignin.create(at=now, email=account.email, client=client[:64], ok=True)
        record(account, "web-signin", f"signed in by a mailed link from {client[:64]}")
    return WebAccount.get_by_id(account.id)


def record(account: WebAccount, kind: str, what: str, request: int | None = None) -> Event:
    """One line of the access journal: who, what, which request."""
    return log_event(kind, f"{account.email} ({account.role}): {what}", request=request)


def journal(limit: int = 300) -> list[dict[str, Any]]:
    """The console's events, newest first."""
    query = (
        Event.select()
        .where(fn.SUBSTR(Event.kind, 1, len(KIND_PREFIX)) == KIND_PREFIX)
        .order_by(Event.at.desc(), Event.id.desc())
        .limit(limit)
    )
    return [
        {"at": utc_iso(e.at), "kind": e.kind, "cause": e.cause, "request": e.request_id}
        for e in query
    ]
