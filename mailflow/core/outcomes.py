"""Every named outcome an inbound message can get, for `mailflow log --outcome`.

The names are defined where each decision is made (classify, pipeline, relay, intake, ...);
this list gathers them so that a mistyped filter gets the valid names instead of an empty
log. tests/test_log_filters.py checks it against those modules and the corpus.
"""

from __future__ import annotations

from collections.abc import Iterable

OUTCOMES = (
    # classify.py: automated mail, never answered
    "auto-reply",
    "bounce",
    "mailing-list",
    "own-loop",
    "spam",
    # inbound/automated.py: mail to a signed return address that is not a bounce, never answered
    "to-return-path",
    # inbound/bounces.py
    "bounce-recorded",
    "bounce-unmatched",
    # transport/ingest.py: the same message stored twice (same Message-ID, sender and body)
    "duplicate",
    # inbound/pipeline.py, inbound/limits.py
    "no-sender",
    "own-address",
    "quarantined",
    "too-large",
    "too-deep",
    # services/intake.py: a new request
    "request-offered",
    "request-needs-info",
    "request-unmatched",
    # inbound/relay.py, services/ratelimit.py, inbound/feedback.py
    "relayed",
    "rate-limited",
    "closed-address",
    "refused-stranger",
    "refused-unknown-token",
    "feedback-recorded",
    "feedback-unclear",
    # inbound/sender_check.py: a party's or an ambassador's mail whose sender is not authenticated
    "unauthenticated",
    # inbound/ambassador_mail.py: commands by mail
    "ambassador-pause",
    "ambassador-absent",
    "ambassador-absent-invalid",
    "ambassador-resume",
    "ambassador-profile",
    "ambassador-stop",
    "ambassador-help",
    "command-refused",
    # services/ending.py: a person's STOP
    "person-stop",
    # confirm.py, confirm_reply.py: a command from unauthenticated mail and its confirmation
    "confirmation-asked",
    "confirmation-repeated",
    "confirmation-expired",
)


def known_outcomes(recorded: Iterable[str | None] = ()) -> tuple[str, ...]:
    """The outcomes above, then any other one a database holds (an older mailflow's)."""
    extra = sorted({r for r in recorded if r and r not in OUTCOMES})
    return (*OUTCOMES, *extra)
