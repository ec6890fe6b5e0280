"""Two auto-responders answering each other through the relay stop at the hourly cap.

On the real Postfix + Dovecot: a person asks, an ambassador is introduced, and from then on
both mailboxes answer every mail they get from a relay address with an auto-reply that
carries no marker at all (no Auto-Submitted, no Precedence, a plain "Re:" subject), so
mailflow takes each one for a human answer and relays it. The test plays both robots, one
round after another, until nobody gets new mail (bounded). The conversation's cap
(`limits.max_relayed_per_conversation_per_hour`) must stop the loop, and the coordinator
must be told once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import parseaddr

from tests.deployment import COORDINATOR, RELAY, Deployment, query
from tests.mailstack import message_ids, send_batch, text_message, wait_count

PERSON = "person1@users.test"
BAKER = "amb1@pros.test"  # Marie, boulangère à Caen (examples/ambassadors.csv)
CAP = 6
ROUNDS = 3 * CAP  # a bound far above what the cap allows: a loop that does not stop fails
T0 = datetime(2026, 3, 2, 9, 0, 0)


def _delivered(dep: Deployment, recipient: str) -> None:
    """Until every mail sent to `recipient` is in its inbox."""
    sent = query(
        dep,
        "SELECT count(*) FROM outbound_mail WHERE recipient = ? AND status = 'sent'",
        (recipient,),
    )[0][0]
    wait_count(dep.stack, recipient, sent, timeout=60)


def _autoreplies(dep: Deployment, answered: set[str]) -> list[tuple[str, str, object]]:
    """Each party's robot answers every new mail from a relay address, unmarked."""
    batch = []
    for party in (PERSON, BAKER):
        _delivered(dep, party)
        for msg in dep.stack.fetch_all(party):
            mid, relay_address = str(msg["Message-ID"]), parseaddr(str(msg["From"]))[1]
            if mid in answered or not relay_address.startswith("relay+"):
                continue
            answered.add(mid)
            reply = text_message(
                party,
                relay_address,
                f"Re: {msg['Subject']}",
                "Bonjour,\nMerci pour votre message, je vous réponds dès que possible.\n",
            )
            reply["In-Reply-To"] = mid
            batch.append((party, relay_address, reply))
    return batch


def test_two_unmarked_autoresponders_through_the_relay_stop_at_the_hourly_cap(
    deployment: Deployment,
) -> None:
    dep = deployment
    with dep.config.open("a", encoding="utf-8") as config:
        config.write(f"\n[limits]\nmax_relayed_per_conversation_per_hour = {CAP}\n")
    dep.stack.send_text(PERSON, RELAY, "Demande", "Je voudrais rencontrer une boulangère à Caen.")
    dep.deliver_and_run(now=T0.isoformat())
    answered: set[str] = set()
    rounds = 0
    while rounds < ROUNDS:
        batch = _autoreplies(dep, answered)
        if not batch:
            break
        rounds += 1
        before = dep.stack.imap_count(RELAY)
        send_batch(dep.stack, batch)
        wait_count(dep.stack, RELAY, before + len(batch))
        dep.run_once((T0 + timedelta(minutes=rounds)).isoformat())  # all within the hour
    assert rounds < ROUNDS, "the loop never stopped"

    relayed = query(dep, "SELECT count(*) FROM outbound_mail WHERE purpose = 'relay'")[0][0]
    assert relayed == CAP, f"{relayed} relayed in {rounds} rounds"
    outcomes = dict(query(dep, "SELECT outcome, count(*) FROM inbound_message GROUP BY outcome"))
    assert outcomes["relayed"] == CAP and outcomes["rate-limited"] >= 1, outcomes
    notices = query(
        dep,
        "SELECT message_id FROM outbound_mail WHERE purpose = 'rate_limited_coordinator'",
    )
    assert len(notices) == 1, notices  # told once, however many were held back
    _delivered(dep, COORDINATOR)
    assert notices[0][0] in message_ids(dep.stack, COORDINATOR)
    events = query(dep, "SELECT cause FROM event WHERE kind = 'rate-limited'")
    assert len(events) == outcomes["rate-limited"]
    assert all(f"(cap {CAP})" in cause for (cause,) in events), events
    # Nothing else went to the parties after the cap: the last round delivered nothing new.
    assert _autoreplies(dep, answered) == []
