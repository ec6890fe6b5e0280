"""Duplicates count once (issue 12, item 6), on the real mail stack with MAILFLOW_NOW: the
same person asking again for the same trade joins their open request (one request, one
notice to the coordinator, the person told kindly), and `request merge` makes an older
duplicate join the request it repeats, so that `stats` counts it once."""

from __future__ import annotations

import json
from email.message import EmailMessage

from tests.deployment import COORDINATOR, RELAY, Deployment, outbox
from tests.mailstack import wait_queue_empty

PERSON = "person1@users.test"
FIRST = "Bonjour, je voudrais devenir vétérinaire. J'ai 16 ans.\nNoé"
AGAIN = "Bonjour, je vous réécris : je voudrais rencontrer un vétérinaire près de Caen.\nNoé"


def text(msg: EmailMessage) -> str:
    return " ".join(msg.get_body(("plain",)).get_content().split())


def write(dep: Deployment, body: str, now: str) -> None:
    dep.stack.send_text(PERSON, RELAY, "Demande", body)
    dep.deliver_and_run(now=now)


def requests_counted(dep: Deployment) -> int:
    return json.loads(dep.cli("stats", "--json").stdout)["total"]["requests"]


def test_asking_again_joins_the_open_request(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    write(dep, FIRST, "2026-03-02T09:00:00")
    [notice] = mail.wait_for(COORDINATOR)
    assert "sans ambassadeur" in str(notice["Subject"])
    write(dep, AGAIN, "2026-03-04T09:00:00")
    [told] = mail.wait_for(PERSON, lambda m: "déjà en cours" in str(m["Subject"]))
    assert "pas besoin de recommencer" in text(told) and "le lieu" in text(told)
    assert "02/03/2026" in text(told)
    wait_queue_empty(mail)
    assert len(outbox(dep, COORDINATOR)) == 1  # no second "demande sans ambassadeur"
    assert len(mail.fetch_all(COORDINATOR)) == 1
    [request] = dep.log()["requests"]
    assert request["age"] == 16 and request["department"] == "14"  # both mails kept
    assert [e["type"] for e in request["timeline"]].count("joined") == 1
    assert requests_counted(dep) == 1


def test_request_merge_makes_a_duplicate_count_once(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    write(dep, FIRST, "2026-03-02T09:00:00")
    write(dep, AGAIN, "2026-04-10T09:00:00")  # 39 days later: outside the window
    assert requests_counted(dep) == 2
    closed = dep.cli("request", "close", "2", "--reason", "doublon de #1")
    assert "request merge" in closed.stdout  # closing does not make it a duplicate
    assert requests_counted(dep) == 2
    merged = dep.cli("request", "merge", "1", "2")
    assert "demande n°2 rattachée à la n°1" in merged.stdout
    assert requests_counted(dep) == 1
    request = dep.log(1)["requests"][0]
    assert request["merged"] == [2] and request["department"] == "14"
    shown = [e for e in request["timeline"] if e.get("merged_from") == 2]
    assert any(e.get("direction") == "in" for e in shown)  # the duplicate's mail, seen in #1
    assert "merged" in [e["type"] for e in request["timeline"]]
    refused = dep.cli("request", "merge", "1", "2", check=False)
    assert refused.returncode != 0 and "already merged" in refused.stderr + refused.stdout
    wait_queue_empty(mail)
