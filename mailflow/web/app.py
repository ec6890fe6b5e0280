"""The console's application: routes, and what every request goes through.

`guarded` wraps each page: the session cookie read and checked (signature, lifetime,
account still active and of the same generation), the role required, the CSRF token of every
POST, the page's work run in a worker thread (peewee keeps one connection per thread), and
any failure turned into a French page without a traceback. Pages (pages.py) and actions
(actions.py) are plain functions of (Visit) returning a Reply; nothing else knows HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailflow.clock import now, wall, wall_iso
from mailflow.config import DATA_ROOT
from mailflow.context import Context, load_labels_of
from mailflow.core.lifecycle import TRANSITIONS
from mailflow.errors import MailflowError
from mailflow.web import accounts, actions, pages
from mailflow.web.sessions import COOKIE, CSRF_FIELD, Sessions
from mailflow.web.visit import ANYONE, COORDINATOR, Console, Reply, Visit

log = logging.getLogger(__name__)
TEMPLATES = DATA_ROOT / "templates" / "web"
SHOWN = "%d/%m/%Y %H:%M"  # times as French people read them, on [schedule] timezone's clock
ROLE_WORDS = {
    "person": "la personne",
    "ambassador": "l'ambassadeur",
    "coordinator": "la coordination",
    "mailflow": "mailflow",
    "sender": "l'expéditeur",
    "stranger": "un inconnu",
    "unknown": "inconnu",
}
JOURNAL_KINDS = {
    "web-signin": "connexion",
    "web-signin-refused": "connexion refusée",
    "web-signout": "déconnexion",
    "web-view": "consultation",
    "web-action": "action",
    "web-account": "compte",
}


def make_app(ctx: Context) -> Starlette:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), cache_size=50
    )
    labels = load_labels_of(ctx.cfg)
    zone = ctx.cfg.schedule.zone
    env.filters["local"] = lambda moment: (  # a stored naive UTC time, or the log's ISO text
        wall_iso(moment, zone, SHOWN) if isinstance(moment, str) else wall(moment, zone, SHOWN)
    )
    env.filters["label"] = lambda code, table: (
        ROLE_WORDS.get(code or "", code) if table == "roles" else labels.of(table, code)
    )
    env.filters["cause"] = labels.cause
    env.globals["states"] = [(code, labels.of("states", code)) for code in TRANSITIONS]
    env.globals["kinds"] = JOURNAL_KINDS
    console = Console(
        ctx=ctx,
        rules=ctx.rules.console,
        sessions=Sessions(
            accounts.session_secret(),
            timedelta(minutes=ctx.cfg.web.session_lifetime_minutes),
            ctx.cfg.web.secure,
        ),
        env=env,
        labels=labels,
    )

    def route(path: str, page: Callable[[Visit], Reply], roles: tuple[str, ...] | None,
              method: str = "GET") -> Route:  # fmt: skip
        return Route(path, guarded(console, page, roles), methods=[method])

    routes = [
        route("/connexion", pages.signin_form, None),
        route("/connexion", actions.signin, None, "POST"),
        route("/connexion/lien", actions.request_link, None, "POST"),
        route("/connexion/lien/{token:str}", pages.link_form, None),
        route("/connexion/lien/{token:str}", actions.use_link, None, "POST"),
        route("/deconnexion", actions.signout, ANYONE, "POST"),
        route("/", pages.home, ANYONE),
        route("/a-traiter", pages.todo_page, (COORDINATOR,)),
        route("/demandes", pages.requests_page, ANYONE),
        route("/demandes/{id:int}", pages.request_page, ANYONE),
        route("/messages/{direction:str}/{id:int}", pages.message_page, (COORDINATOR,)),
        route("/statistiques", pages.stats_page, ANYONE),
        route("/statistiques.csv", pages.stats_csv, ANYONE),
        route("/ambassadeurs", pages.ambassadors_page, (COORDINATOR,)),
        route("/journal", pages.journal_page, (COORDINATOR,)),
        route("/demandes/{id:int}/fermer", actions.close_request, (COORDINATOR,), "POST"),
        route("/demandes/{id:int}/corriger", actions.correct_request, (COORDINATOR,), "POST"),
        route("/demandes/{id:int}/confier", actions.assign_request, (COORDINATOR,), "POST"),
        route("/demandes/{id:int}/rattacher", actions.merge_request, (COORDINATOR,), "POST"),
        route(
            "/ambassadeurs/{id:int}/adresse-ok",
            actions.clear_ambassador_bounce,
            (COORDINATOR,),
            "POST",
        ),  # fmt: skip
        route("/quarantaine/{id:int}/relancer", actions.quarantine_retry, (COORDINATOR,), "POST"),
        route("/quarantaine/{id:int}/abandonner", actions.quarantine_drop, (COORDINATOR,), "POST"),
    ]
    app = Starlette(routes=routes)
    app.state.console = console
    return app


def _visit(console: Console, request: Request, form: dict[str, str]) -> tuple[Visit, bool]:
    """The visit of `request`, and whether its session cookie must be (re)written."""
    sessions = console.sessions
    session = sessions.decode(request.cookies.get(COOKIE))
    rewrite = session is None
    session = session or sessions.fresh()
    account = None
    if session.account is not None:
        account = accounts.signed_in_account(session.account, session.generation)
        if account is None or sessions.expired(session, now()):
            session, account, rewrite = session.signed_out(), None, True
    client = request.client.host if request.client else "unknown"
    params = dict(request.query_params)
    return Visit(
        console, session, account, params, form, dict(request.path_params), client
    ), rewrite


def _error(console: Console, visit: Visit | None, status: int, message: str) -> Reply:
    values = {"code": status, "message": message}
    try:
        if visit is not None:
            return visit.page("error.html", status, **values)
        return Reply(console.render("error.html", account=None, csrf="", **values), status)
    except Exception:  # even the error page failed: plain French text, still no traceback
        log.exception("console: the error page failed")
        return Reply(message, status, media_type="text/plain; charset=utf-8")


def _run(console: Console, request: Request, form: dict[str, str], page: Callable[[Visit], Reply],
         roles: tuple[str, ...] | None) -> tuple[Reply, Visit | None, bool]:  # fmt: skip
    """In a worker thread: the checks, then the page."""
    visit: Visit | None = None
    try:
        visit, rewrite = _visit(console, request, form)
        if roles is not None and visit.account is None:
            return Reply(redirect="/connexion"), visit, rewrite
        if request.method == "POST" and not console.sessions.csrf_ok(
            visit.session, form.get(CSRF_FIELD)
        ):
            return _error(console, visit, 403, FORGED), visit, rewrite
        if roles is not None and visit.account.role not in roles:
            return _error(console, visit, 403, NOT_YOURS), visit, rewrite
        return page(visit), visit, rewrite
    except MailflowError as exc:
        return _error(console, visit, 400, str(exc)), visit, False
    except Exception:  # logged with its traceback, never shown
        log.exception("console: %s %s failed", request.method, request.url.path)
        return _error(console, visit, 500, BROKEN), visit, False


FORGED = "Ce formulaire a expiré ou ne vient pas de la console : rechargez la page et recommencez."
NOT_YOURS = "Cette page est réservée aux coordinateurs."
BROKEN = "Une erreur est survenue de notre côté ; elle est notée. Réessayez dans un moment."


def guarded(console: Console, page: Callable[[Visit], Reply], roles: tuple[str, ...] | None):  # noqa: ANN201
    async def endpoint(request: Request) -> Response:
        form: dict[str, str] = {}
        if request.method == "POST":
            try:
                data = await request.form(max_files=0, max_fields=100)
                form = {k: v for k, v in data.items() if isinstance(v, str)}
            except Exception:  # a malformed body: treated as a form without its token
                form = {}
        reply, visit, rewrite = await run_in_threadpool(_run, console, request, form, page, roles)
        return _response(console, reply, visit, rewrite)

    return endpoint


def _response(console: Console, reply: Reply, visit: Visit | None, rewrite: bool) -> Response:
    if reply.redirect:
        response: Response = RedirectResponse(reply.redirect, status_code=303)
    else:
        response = Response(reply.body, reply.status, media_type=reply.media_type)
    response.headers.update(reply.headers)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'"
    )
    session = reply.session or (visit.session if visit is not None and rewrite else None)
    if session is not None:
        response.set_cookie(COOKIE, console.sessions.encode(session), **console.sessions.cookie())
    return response
