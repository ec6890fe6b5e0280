"""The console's actions (POST, CSRF-checked by app.guarded): each calls the function its
CLI twin calls (`request close`, `quarantine retry/drop`), then writes its line in the access
journal, in the same transaction as nothing else: the service's own events say what changed.
"""

from __future__ import annotations

from mailflow.admin import quarantine
from mailflow.admin import request as request_admin
from mailflow.clock import now
from mailflow.services.notices import send_auto
from mailflow.store.models import database
from mailflow.transport.send import flush_outbox
from mailflow.web import accounts
from mailflow.web.visit import Reply, Visit

_FLAGS = ("1", "on", "oui")


def signin(visit: Visit) -> Reply:
    email = visit.form.get("email", "")
    found = accounts.attempt(
        email, visit.form.get("password", ""), visit.client, visit.console.rules
    )
    if found.account is None:
        status = 401 if found.refused == accounts.WRONG else 429
        return visit.page("signin.html", status, message=found.refused, email=email)
    account = found.account
    return Reply(
        redirect="/", session=visit.session.signed_in(account.id, account.generation, now())
    )


LINK_SENT = (
    "Si un compte actif existe à cette adresse, un lien de connexion vient de lui être "
    "envoyé : ouvrez-le depuis votre messagerie."
)
LINK_BAD = "Ce lien de connexion n'est plus valable : demandez-en un nouveau."
LINK_TEMPLATE = "console_signin_link"  # templates/mails/, and the purpose of its outbox row


def request_link(visit: Visit) -> Reply:
    """The same answer whether or not the address has an account (nothing to learn here)."""
    ctx, rules = visit.console.ctx, visit.console.rules
    with database.atomic():
        issued = accounts.issue_link(visit.form.get("email", ""), rules)
        if issued is not None:
            account, token = issued
            send_auto(
                ctx,
                LINK_TEMPLATE,
                key=f"console-link:{account.id}:{account.link_sent_at.isoformat()}",
                to=account.email,
                role="coordinator",
                data={
                    "url": f"{ctx.cfg.web.url}/connexion/lien/{token}",
                    "minutes": int(rules.link_lifetime.total_seconds() // 60),
                },
            )
    if issued is not None:
        flush_outbox(ctx.cfg.smtp)  # as the CLI: a running daemon sends it instead
    return visit.page("signin.html", message=LINK_SENT, email="", sent=True)


def use_link(visit: Visit) -> Reply:
    account = accounts.use_link(visit.path["token"], visit.client)
    if account is None:
        return visit.page("signin.html", 401, message=LINK_BAD, email="")
    return Reply(
        redirect="/", session=visit.session.signed_in(account.id, account.generation, now())
    )


def signout(visit: Visit) -> Reply:
    if visit.account is not None:
        accounts.sign_out(visit.account)
    return Reply(redirect="/connexion", session=visit.session.signed_out())


def close_request(visit: Visit) -> Reply:
    request_id = visit.path["id"]
    reason = visit.form.get("reason", "").strip() or None
    withdrawn = visit.form.get("withdrawn") in _FLAGS
    notify = visit.form.get("notify") in _FLAGS
    summary = request_admin.close(visit.console.ctx, request_id, reason, withdrawn, notify)
    visit.record("web-action", f"closed request #{request_id}: {summary}", request_id)
    if notify:
        flush_outbox(visit.console.ctx.cfg.smtp)  # as the CLI: a running daemon sends instead
    return Reply(redirect=f"/demandes/{request_id}?fait=fermee")


def quarantine_retry(visit: Visit) -> Reply:
    entry = quarantine.retry(visit.path["id"])
    visit.record("web-action", f"released inbound message #{entry.id} from quarantine")
    return Reply(redirect="/a-traiter?fait=relance")


def quarantine_drop(visit: Visit) -> Reply:
    entry = quarantine.drop(visit.path["id"])
    visit.record("web-action", f"dropped inbound message #{entry.id} from quarantine")
    return Reply(redirect="/a-traiter?fait=abandon")
