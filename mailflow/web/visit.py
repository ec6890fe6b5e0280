"""What a page is given and what it returns: the console's shared state, one visit (the
request as a page sees it: session, account, query, form) and the reply. Apart from app.py
so that pages and actions need nothing of HTTP or of the application."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment

from mailflow.context import Context
from mailflow.core.console_rules import ConsoleRules
from mailflow.core.labels import Labels
from mailflow.store.models import WebAccount
from mailflow.web import accounts
from mailflow.web.sessions import CSRF_FIELD, Session, Sessions

COORDINATOR, OBSERVER = "coordinator", "observer"
ANYONE = (COORDINATOR, OBSERVER)


@dataclass
class Console:
    """What every page is given: the context, the rules, the templates, the sessions."""

    ctx: Context
    rules: ConsoleRules
    sessions: Sessions
    env: Environment
    labels: Labels

    def render(self, name: str, **values: Any) -> str:
        return self.env.get_template(name).render(**values)


@dataclass
class Visit:
    """One request as a page sees it."""

    console: Console
    session: Session
    account: WebAccount | None
    params: dict[str, str]  # the query string
    form: dict[str, str]
    path: dict[str, Any]  # the route's {id}
    client: str

    def page(self, name: str, status: int = 200, **values: Any) -> Reply:
        values.setdefault("account", self.account)
        values.setdefault("csrf", self.console.sessions.csrf_token(self.session))
        values.setdefault("csrf_field", CSRF_FIELD)
        return Reply(self.console.render(name, **values), status)

    def record(self, kind: str, what: str, request: int | None = None) -> None:
        if self.account is not None:
            accounts.record(self.account, kind, what, request)


@dataclass
class Reply:
    body: str | bytes = ""
    status: int = 200
    redirect: str | None = None
    media_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    session: Session | None = None  # a new session (signed in or out)
