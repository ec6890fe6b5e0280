"""A match that stretches is said so and counted apart, on the real mail stack (issue 12,
item 5). The sample directory has no electrician: Thomas, plumber in Bayeux, is of the same
ROME domain (F16). For Léo in Bayeux that is another trade nearby, allowed by the default
policy (rules/matching.toml) and told to both sides; for Emma in Lille it would be another
trade *and* another region, which the default never allows: her request is unmet and goes
to the coordinator, and `stats` counts one stretched match and one unmet request."""

from __future__ import annotations

import csv
import io

from tests.deployment import COORDINATOR, RELAY, Deployment, outbox, query
from tests.e2e.test_followup_e2e import settled, text

LEO, EMMA = "person1@users.test", "person2@users.test"
THOMAS = "amb5@pros.test"  # Plombier chauffagiste, Bayeux (14)
MONDAY = "2026-03-02T09:00:00"


def test_a_stretched_match_is_told_to_both_sides_and_unmet_stays_unmet(
    deployment: Deployment,
) -> None:
    dep, mail = deployment, deployment.stack
    mail.send_text(
        LEO, RELAY, "Demande", "Bonjour, je voudrais rencontrer un électricien à Bayeux."
    )
    mail.send_text(EMMA, RELAY, "Demande", "Bonjour, je cherche un électricien à Lille.")
    dep.deliver_and_run(count=2, now=MONDAY)

    # Léo: offered to Thomas, and both are told it is not exactly the trade asked.
    assert [(p, r) for p, r, _ in outbox(dep, THOMAS)] == [("intro", THOMAS)]
    [intro] = mail.wait_for(THOMAS)
    assert "ce n'est pas exactement votre métier" in text(intro)
    assert "électricien" in text(intro).lower()
    [ack] = mail.wait_for(LEO)
    assert "ce n'est pas exactement le métier demandé" in text(ack)
    assert "Thomas est plombier chauffagiste" in text(ack)
    assert "autre département" not in text(ack) and "autre région" not in text(ack)
    [(quality,)] = query(dep, "SELECT match_quality FROM conversation")
    assert quality == "stretched:trade"

    # Emma: nobody within the policy (a plumber in Bayeux is another trade and region).
    [(emma_state,)] = query(
        dep,
        "SELECT state FROM request JOIN person ON person.id = request.person_id "
        "WHERE person.email = ?",
        (EMMA,),
    )
    assert emma_state == "unmatched"
    assert [p for p, _, _ in outbox(dep, EMMA)] == ["unmatched"]
    assert [p for p, _, _ in outbox(dep, COORDINATOR)] == ["unmatched_coordinator"]
    settled(dep)
    assert len(mail.fetch_all(THOMAS)) == 1  # Emma's request never reached Thomas

    rows = csv.DictReader(io.StringIO(dep.cli("stats", "--csv", "--year", "2026").stdout))
    got = {(r["table"], r["key"]): r["value"] for r in rows}
    assert got["requests", "total"] == "2"
    assert got["requests_by_match", "exact"] == "0"
    assert got["requests_by_match", "stretched"] == "1"
    assert got["requests_by_match", "unmet"] == "1"
    assert got["stretched_by", "trade"] == "1" and got["stretched_by", "region"] == "0"
    assert got["unmet_demand", "total"] == "1"
    [unmet_key] = [k for t, k in got if t == "unmet_demand_rows"]
    assert unmet_key.startswith("59|") and "lectricien" in unmet_key
    assert got["answers", "offered"] == "1"  # a stretched offer is an offer, counted apart
