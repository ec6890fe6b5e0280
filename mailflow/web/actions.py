"""The console's actions (POST, CSRF-checked by app.guarded): each calls the function its
CLI twin calls (`request close`, `quarantine retry/drop`), then writes its line in the access
journal (the service's own events say what changed): `request close/set/assign/merge`,
`quarantine retry/drop`, `ambassadors clear-bounce`.
"""

from __future__ import annotations

from mailflow.admin import quarantine
from mailflow.admin import request as request_admin
from mailflow.admin.correction import Given
from mailflow.admin.directory import clear_bounce
from mailflow.clock import now
from mailflow.errors import MailflowError
from mailflow.services.notices import send_auto
from mailflow.store.models import Ambassador, database
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


def _given(visit: Visit) -> Given:
    """The corrections typed in the request's form (empty fields: not corrected)."""
    text = {k: visit.form.get(k, "").strip() or None for k in
            ("trade", "kind", "place", "department", "age", "situation")}  # fmt: skip
    age = text["age"]
    if age is not None and not age.isdigit():
        raise MailflowError(f"« {age} » n'est pas un âge (un nombre, par exemple 15).")
    return Given(text["trade"], text["kind"], text["place"], text["department"],
                 int(age) if age else None, text["situation"])  # fmt: skip


def correct_request(visit: Visit) -> Reply:
    request_id = visit.path["id"]
    summary = request_admin.set_fields(visit.console.ctx, request_id, _given(visit))
    visit.record("web-action", f"corrected request #{request_id}: {summary}", request_id)
    return Reply(redirect=f"/demandes/{request_id}?fait=corrigee")


def assign_request(visit: Visit) -> Reply:
    request_id = visit.path["id"]
    address = visit.form.get("ambassador", "").strip()
    if not address:
        raise MailflowError("Indiquez l'adresse de l'ambassadeur à qui confier la demande.")
    force = visit.form.get("force") in _FLAGS
    ctx = visit.console.ctx
    summary = request_admin.assign(ctx, request_id, address, force, _given(visit))
    visit.record("web-action", f"assigned request #{request_id}: {summary}", request_id)
    flush_outbox(ctx.cfg.smtp)
    return Reply(redirect=f"/demandes/{request_id}?fait=confiee")


def merge_request(visit: Visit) -> Reply:
    """This request is a duplicate of the one typed: it joins that one (`request merge`)."""
    duplicate = visit.path["id"]
    keep = visit.form.get("keep", "").strip().lstrip("nN°º ").strip()
    if not keep.isdigit():
        raise MailflowError("Indiquez le numéro de la demande gardée (par exemple 12).")
    ctx = visit.console.ctx
    summary = request_admin.merge(ctx, int(keep), duplicate)
    visit.record("web-action", f"merged request #{duplicate} into #{keep}: {summary}", duplicate)
    flush_outbox(ctx.cfg.smtp)
    return Reply(redirect=f"/demandes/{int(keep)}?fait=rattachee")


def clear_ambassador_bounce(visit: Visit) -> Reply:
    ambassador = Ambassador.get_or_none(Ambassador.id == visit.path["id"])
    if ambassador is None:
        raise MailflowError("Cet ambassadeur n'existe pas.")
    clear_bounce(ambassador.email)
    visit.record("web-action", f"cleared the bounce state of ambassador #{ambassador.id}")
    return Reply(redirect="/a-traiter?fait=adresse")
