"""The console's guarantees over real HTTP, against the real `mailflow web` process: every
page needs a session, an observer gets 403 on every coordinator page and action and sees
no address, a form without its CSRF token is refused, the cookie's flags, ten wrong
passwords lock the account, one client address is slowed down, a disabled account's
session ends, a link by mail signs in once, and no answer carries a traceback."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from mailflow.cli.main import main
from mailflow.store.models import Ambassador, Event, OutboundMail, Request, WebAccount
from tests.console_support import COORDINATOR, OBSERVER, Client, console, seed

ADDRESS = re.compile(r"[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)+")
PAGES = ("/", "/a-traiter", "/demandes", "/demandes/{lea}", "/statistiques", "/journal",
         "/ambassadeurs",
         "/statistiques.csv", "/messages/entrant/{held}")  # fmt: skip
ACTIONS = ("/demandes/{lea}/fermer", "/quarantaine/{held}/relancer",
           "/quarantaine/{held}/abandonner", "/demandes/{lea}/corriger",
           "/demandes/{lea}/confier", "/demandes/{lea}/rattacher",
           "/ambassadeurs/1/adresse-ok")  # fmt: skip
TRACEBACK = re.compile(r"Traceback|File \"/|peewee\.|Error:", re.IGNORECASE)


@pytest.fixture
def site(tmp_path: Path):  # noqa: ANN201
    seeded = seed(tmp_path)
    with console(seeded.config, seeded.port) as url:
        yield seeded, url


def _paths(paths: tuple[str, ...], seeded) -> list[str]:  # noqa: ANN001
    return [p.format(lea=seeded.lea, held=seeded.quarantined) for p in paths]


def test_without_a_session_every_page_and_action_leads_to_sign_in(site) -> None:  # noqa: ANN001
    seeded, url = site
    anonymous = Client(url)
    for path in _paths(PAGES, seeded):
        answer = anonymous.get(path)
        assert (answer.status, answer.location) == (303, "/connexion"), path
    token = anonymous.csrf()
    for path in _paths(ACTIONS, seeded):
        answer = anonymous.post(path, {"csrf": token})
        assert (answer.status, answer.location) == (303, "/connexion"), path
    assert Request.get_by_id(seeded.lea).state != "closed"


def test_the_cookie_is_httponly_and_strict(site) -> None:  # noqa: ANN001
    _, url = site
    answer = Client(url).get("/connexion")
    cookie = answer.headers.get("Set-Cookie")
    assert cookie.startswith("mailflow_console=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=28800" in cookie
    assert "Secure" not in cookie  # plain http on loopback; https public_url: test below


def test_a_form_without_its_csrf_token_is_refused(site) -> None:  # noqa: ANN001
    seeded, url = site
    lea = Client(url)
    assert lea.sign_in(*COORDINATOR).location == "/"
    for token in ({}, {"csrf": "0" * 64}, {"csrf": Client(url).csrf()}):
        answer = lea.post(f"/demandes/{seeded.lea}/fermer", token)
        assert answer.status == 403 and "ne vient pas de la console" in answer.body
    assert Request.get_by_id(seeded.lea).state != "closed"
    # and the sign-in form too: a login forced from another site is refused
    answer = Client(url).post("/connexion", {"email": COORDINATOR[0], "password": COORDINATOR[1]})
    assert answer.status == 403


def test_an_observer_sees_figures_and_anonymised_timelines_only(site) -> None:  # noqa: ANN001
    seeded, url = site
    observer = Client(url)
    assert observer.sign_in(*OBSERVER).location == "/"
    assert observer.get("/").location == "/statistiques"
    seen = []
    for path in ("/statistiques", "/demandes", f"/demandes/{seeded.lea}",
                 f"/demandes/{seeded.tom}", "/statistiques.csv",
                 "/demandes?person=lea.martin%40users.test"):  # fmt: skip
        answer = observer.get(path)
        assert answer.status == 200, path
        assert not ADDRESS.findall(answer.body), (path, ADDRESS.findall(answer.body))
        seen.append(answer.body)
    csv = seen[4]
    assert csv.startswith("\ufeffyear;table;key;value;libelle\r\n")  # French Excel's
    assert "requests;total;3;Demandes : total" in csv
    timeline = seen[2]
    assert "Chronologie" in timeline and "Vue anonymisée" in timeline
    assert "message reçu" in timeline and "changement d'état" in timeline  # not empty
    for private in ("Léa", "stage boulangerie", "06 12 34 56 78", "/messages/", "Caen"):
        assert private not in timeline, private
    token = observer.csrf("/statistiques")
    for path in ("/a-traiter", "/journal", "/ambassadeurs", "/messages/entrant/1",
                 "/messages/sortant/1"):  # fmt: skip
        assert observer.get(path).status == 403, path
    for path in _paths(ACTIONS, seeded):
        assert observer.post(path, {"csrf": token}).status == 403, path
    assert Request.get_by_id(seeded.lea).state != "closed"


def test_ten_wrong_passwords_lock_the_account_even_for_the_right_one(site) -> None:  # noqa: ANN001
    seeded, url = site
    for i in range(10):
        answer = Client(url, f"198.51.100.{i}").sign_in(COORDINATOR[0], f"devine {i}")
        assert answer.status == 401 and "Adresse ou mot de passe incorrect" in answer.body
    locked = Client(url, "198.51.100.77").sign_in(*COORDINATOR)
    assert locked.status == 429 and "bloqué pendant encore 15 minutes" in locked.body
    assert Client(url).sign_in(*OBSERVER).location == "/"  # the other account is not locked
    refused = Event.select().where(Event.kind == "web-signin-refused").count()
    assert refused == 11


def test_one_address_failing_too_often_waits(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    source = Path(__file__).resolve().parents[2] / "rules"
    for item in source.iterdir():
        (rules / item.name).symlink_to(item)
    (rules / "console.toml").unlink()
    text = (source / "console.toml").read_text(encoding="utf-8")
    (rules / "console.toml").write_text(
        text.replace("address_failures = 30", "address_failures = 3")
    )
    seeded = seed(tmp_path, '\n[paths]\nrules = "rules"\n')
    with console(seeded.config, seeded.port) as url:
        for name in ("a", "b", "c"):
            assert Client(url, "203.0.113.9").sign_in(f"{name}@x.test", "non").status == 401
        answer = Client(url, "203.0.113.9").sign_in(*COORDINATOR)
        assert answer.status == 429 and "depuis votre adresse" in answer.body
        assert Client(url, "203.0.113.10").sign_in(*COORDINATOR).location == "/"


def test_sign_out_and_disabling_end_the_session(site) -> None:  # noqa: ANN001
    seeded, url = site
    lea = Client(url)
    lea.sign_in(*COORDINATOR)
    assert lea.get("/a-traiter").status == 200
    stolen = list(lea.jar)
    assert lea.post("/deconnexion", {"csrf": lea.csrf("/a-traiter")}).location == "/connexion"
    thief = Client(url)
    for cookie in stolen:
        thief.jar.set_cookie(cookie)
    assert thief.get("/a-traiter").location == "/connexion"  # the old cookie is worth nothing
    lea.sign_in(*COORDINATOR)
    assert lea.get("/a-traiter").status == 200
    assert main(["--config", str(seeded.config), "web", "user", "disable", COORDINATOR[0]]) == 0
    assert lea.get("/a-traiter").location == "/connexion"
    assert lea.sign_in(*COORDINATOR).status == 401
    assert not WebAccount.get(WebAccount.email == COORDINATOR[0]).active


def test_failures_are_french_pages_without_a_traceback(site) -> None:  # noqa: ANN001
    seeded, url = site
    lea = Client(url)
    lea.sign_in(*COORDINATOR)
    token = lea.csrf("/a-traiter")
    for answer in (
        lea.get("/demandes/999999"),
        lea.get("/demandes?since=hier"),
        lea.get("/statistiques?annee=deux-mille"),
        lea.get("/messages/entrant/999999"),
        lea.post("/quarantaine/999999/relancer", {"csrf": token}),
        lea.post("/demandes/999999/fermer", {"csrf": token}),
    ):
        assert answer.status in (200, 400), answer.body[:300]
        assert not TRACEBACK.search(answer.body), answer.body
        assert '<html lang="fr">' in answer.body


def test_behind_tls_the_cookie_is_secure(tmp_path: Path) -> None:
    seeded = seed(tmp_path, web='public_url = "https://console.region.test"')
    with console(seeded.config, seeded.port) as url:
        cookie = Client(url).get("/connexion").headers.get("Set-Cookie")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_a_link_by_mail_signs_in_once_and_says_nothing_of_unknown_addresses(site) -> None:  # noqa: ANN001
    seeded, url = site
    visitor = Client(url)
    for email in ("inconnu@region.test", COORDINATOR[0]):
        answer = visitor.post("/connexion/lien", {"csrf": visitor.csrf(), "email": email})
        assert answer.status == 200 and "un lien de connexion vient de lui être" in answer.body
    mails = list(OutboundMail.select().where(OutboundMail.purpose == "console_signin_link"))
    assert [m.recipient for m in mails] == [COORDINATOR[0]]
    body = message_from_bytes(bytes(mails[0].raw), policy=policy.default).get_body()
    link = re.search(r"http://\S+/connexion/lien/\S+", body.get_content()).group(0)
    assert link.startswith(f"http://127.0.0.1:{seeded.port}/connexion/lien/")
    path = link.removeprefix(url)
    opened = visitor.get(path)  # what a mail scanner following the link would do: nothing
    assert opened.status == 200 and "Me connecter" in opened.body
    assert visitor.get("/a-traiter").location == "/connexion"
    assert visitor.post(path, {}).status == 403  # its button carries the CSRF token
    assert visitor.post(path, {"csrf": visitor.csrf(path)}).location == "/"
    assert visitor.get("/a-traiter").status == 200
    again = Client(url)
    answer = again.post(path, {"csrf": again.csrf(path)})
    assert answer.status == 401 and "plus valable" in answer.body


def test_a_coordinator_corrects_assigns_merges_and_clears_a_bounce(site) -> None:  # noqa: ANN001
    seeded, url = site
    lea = Client(url)
    lea.sign_in(*COORDINATOR)
    token = lea.csrf("/a-traiter")
    fixed = lea.post(f"/demandes/{seeded.tom}/corriger", {"csrf": token, "age": "16"})
    assert fixed.location == f"/demandes/{seeded.tom}?fait=corrigee"
    assert Request.get_by_id(seeded.tom).age == 16  # (at 13 the assignment below would wait
    # for a parent's consent: rules/minors.toml)
    refused = lea.post(f"/demandes/{seeded.tom}/corriger", {"csrf": token, "age": "seize"})
    assert refused.status == 400 and "un âge" in refused.body

    given = {"csrf": token, "ambassador": "amb2@pros.test", "force": "1"}
    assigned = lea.post(f"/demandes/{seeded.tom}/confier", given)
    assert assigned.location == f"/demandes/{seeded.tom}?fait=confiee", assigned.body[:500]
    offered_to = {c.ambassador.email for c in Request.get_by_id(seeded.tom).conversations}
    assert "amb2@pros.test" in offered_to

    merged = lea.post(f"/demandes/{seeded.tom}/rattacher", {"csrf": token, "keep": "n° 999"})
    assert merged.status == 400  # no request 999: the service says so, as a French page
    merged = lea.post(f"/demandes/{seeded.tom}/rattacher", {"csrf": token, "keep": "abc"})
    assert merged.status == 400 and "numéro de la demande" in merged.body

    bouncing = Ambassador.get(Ambassador.email == "amb3@pros.test")
    Ambassador.update(bounce_state="failing").where(Ambassador.id == bouncing.id).execute()
    todo = lea.get("/a-traiter").body
    assert "Ambassadeurs injoignables (1)" in todo and "Inès M." in todo
    cleared = lea.post(f"/ambassadeurs/{bouncing.id}/adresse-ok", {"csrf": token})
    assert cleared.location == "/a-traiter?fait=adresse"
    assert Ambassador.get_by_id(bouncing.id).bounce_state == "ok"
    directory = lea.get("/ambassadeurs").body
    assert "amb2@pros.test" in directory and "Julien" in directory and "disponible" in directory
    journal = lea.get("/journal").body
    for done in (f"a corrigé la demande n° {seeded.tom}", f"a confié la demande n° {seeded.tom}",
                 f"a rétabli l&#39;adresse de l&#39;ambassadeur n° {bouncing.id}"):  # fmt: skip
        assert done in journal, done
