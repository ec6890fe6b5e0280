"""Every named outcome an inbound message can get, and every status of an outbox row,
defined once.

The values are contracts: they are stored in `inbound_messages.outcome`, printed by the
daemon and `mailflow log`, and accepted by `mailflow log --outcome`; never rename one. The
modules that decide (classify, pipeline, relay, intake, ...) name them through this enum,
often under a local alias (`TOO_LARGE = Outcome.TOO_LARGE`). A `StrEnum` member is a `str`,
so it compares, formats and is stored as its value. tests/db/test_log_filters.py and
tests/unit/test_outcome_enum.py check that every outcome a module gives is here.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Outcome(StrEnum):
    """What became of one inbound message, in the order `mailflow log --outcome` lists them."""

    # classify.py: automated mail, never answered
    AUTO_REPLY = "auto-reply"
    BOUNCE = "bounce"
    MAILING_LIST = "mailing-list"
    OWN_LOOP = "own-loop"
    SPAM = "spam"
    # inbound/automated.py: mail to a signed return address that is not a bounce, never answered
    TO_RETURN_PATH = "to-return-path"
    # inbound/bounces.py
    BOUNCE_RECORDED = "bounce-recorded"
    BOUNCE_UNMATCHED = "bounce-unmatched"
    # transport/ingest.py: the same message stored twice (same Message-ID, sender and body);
    # inbound/relay.py: every conversation it was addressed to had it from another copy
    DUPLICATE = "duplicate"
    # inbound/pipeline.py, inbound/limits.py
    NO_SENDER = "no-sender"
    OWN_ADDRESS = "own-address"
    QUARANTINED = "quarantined"
    TOO_LARGE = "too-large"
    TOO_DEEP = "too-deep"
    # services/intake.py: a new request
    REQUEST_OFFERED = "request-offered"
    REQUEST_NEEDS_INFO = "request-needs-info"
    REQUEST_UNMATCHED = "request-unmatched"
    REQUEST_JOINED = "request-joined"  # the same person asked again: joined the open request
    # services/consent.py, inbound/consent_reply.py: a child's request held for consent
    REQUEST_AWAITING_CONSENT = "request-awaiting-consent"
    CONSENT_ADULT_NAMED = "consent-adult-named"  # the child gave an adult's address (or Cc)
    CONSENT_NO_ADDRESS = "consent-no-address"  # the child wrote, with no adult's address
    CONSENT_GIVEN = "consent-given"
    CONSENT_REFUSED = "consent-refused"
    CONSENT_WITHDRAWN = "consent-withdrawn"
    CONSENT_UNCLEAR = "consent-unclear"  # neither yes nor no: asked "répondez OUI ou NON"
    CONSENT_COPY = "consent-copy"  # the adult asked to be kept in copy
    CONSENT_OVER = "consent-over"  # a reply once the consent was decided or expired
    # inbound/relay.py, services/ratelimit.py, inbound/feedback.py
    RELAYED = "relayed"
    RATE_LIMITED = "rate-limited"
    CLOSED_ADDRESS = "closed-address"
    LATE_ANSWER_RELAYED = "late-answer-relayed"  # core/late_answer.py: relayed after all
    LATE_ANSWER_KEPT = "late-answer-kept"  # core/late_answer.py: kept for the coordinator
    REFUSED_STRANGER = "refused-stranger"
    REFUSED_UNKNOWN_TOKEN = "refused-unknown-token"
    FEEDBACK_RECORDED = "feedback-recorded"
    FEEDBACK_UNCLEAR = "feedback-unclear"
    # inbound/sender_check.py: a party's or an ambassador's mail whose sender is not authenticated
    UNAUTHENTICATED = "unauthenticated"
    # inbound/ambassador_mail.py: commands by mail
    AMBASSADOR_PAUSE = "ambassador-pause"
    AMBASSADOR_ABSENT = "ambassador-absent"
    AMBASSADOR_ABSENT_INVALID = "ambassador-absent-invalid"
    AMBASSADOR_RESUME = "ambassador-resume"
    AMBASSADOR_PROFILE = "ambassador-profile"
    AMBASSADOR_STOP = "ambassador-stop"
    AMBASSADOR_HELP = "ambassador-help"
    COMMAND_REFUSED = "command-refused"
    # services/ending.py: a person's STOP
    PERSON_STOP = "person-stop"
    # confirm.py, confirm_reply.py: a command from unauthenticated mail and its confirmation
    CONFIRMATION_ASKED = "confirmation-asked"
    CONFIRMATION_REPEATED = "confirmation-repeated"
    CONFIRMATION_EXPIRED = "confirmation-expired"
    # inbound/charter_reply.py: an ambassador's answer to the charter's welcome mail
    CHARTER_ACCEPTED = "charter-accepted"
    CHARTER_UNCLEAR = "charter-unclear"
    CHARTER_REPEATED = "charter-repeated"


OUTCOMES: tuple[str, ...] = tuple(o.value for o in Outcome)


class OutboxStatus(StrEnum):
    """Where one outbox row (store/models.py OutboundMail) stands; stored, printed by
    `mailflow message show` and the digest: never rename one (transport/send.py)."""

    QUEUED = "queued"  # waiting for its next attempt (store/outbox.py)
    SENDING = "sending"  # claimed by a sender, not yet handed to SMTP
    HANDED = "handed"  # given to the SMTP server, its answer not yet recorded
    SENT = "sent"  # the server accepted it
    UNCONFIRMED = "unconfirmed"  # handed to SMTP, the server's 250 never recorded
    FAILED = "failed"  # given up, or cancelled (request ended, data erased)
    BOUNCED = "bounced"  # a bounce came back for it (inbound/bounces.py)


def known_outcomes(recorded: Iterable[str | None] = ()) -> tuple[str, ...]:
    """The outcomes above, then any other one a database holds (an older mailflow's)."""
    extra = sorted({r for r in recorded if r and r not in OUTCOMES})
    return (*OUTCOMES, *extra)
