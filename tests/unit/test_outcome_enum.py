"""The named outcomes are defined once (mailflow/core/outcomes.py) and every module names
them through the enum: a copy of an outcome string kept elsewhere could drift from the
stored contract without any test noticing."""

from __future__ import annotations

import importlib
import pkgutil
import tomllib
from pathlib import Path

import pytest

import mailflow
from mailflow.core.outcomes import OUTCOMES, OutboxStatus, Outcome
from mailflow.errors import MailflowError
from mailflow.review.log_filters import make_filter

CORPUS = Path(__file__).resolve().parents[1] / "corpus"

# Module-level constants that share a word with an outcome but name something else.
NOT_OUTCOMES = {
    ("mailflow.services.confirm", "PERSON_STOP"),  # a kind of confirmation, stored as such
    ("mailflow.services.ending", "PERSON_STOP_KIND"),  # the same, imported from confirm
    ("mailflow.admin.quarantine", "QUARANTINED"),  # the status of a kept message
    ("mailflow.inbound.automated", "SPAM_EVENT"),  # event kinds
    ("mailflow.inbound.automated", "AUTO_REPLY_EVENT"),
}


def _modules() -> list[object]:
    names = [m.name for m in pkgutil.walk_packages(mailflow.__path__, "mailflow.")]
    return [importlib.import_module(n) for n in names if not n.endswith("__main__")]


def test_the_enum_values_are_the_stored_strings_once_each() -> None:
    assert [o.value for o in Outcome] == list(OUTCOMES)
    assert len(set(OUTCOMES)) == len(OUTCOMES) > 35
    assert Outcome.TOO_LARGE == "too-large" and f"{Outcome.RELAYED}" == "relayed"
    assert str(Outcome.REFUSED_UNKNOWN_TOKEN) == "refused-unknown-token"


def test_log_outcome_offers_exactly_the_enum() -> None:
    with pytest.raises(MailflowError) as refused:
        make_filter(outcome="nonsense")
    assert str(refused.value).endswith(": one of " + ", ".join(o.value for o in Outcome))


def test_every_module_constant_naming_an_outcome_is_the_enum_member() -> None:
    """An outcome string copied into a module constant (not `Outcome.X`) is reported."""
    values = set(OUTCOMES)
    copies, aliases = [], 0
    for module in _modules():
        for name, value in vars(module).items():
            if not name.isupper() or not isinstance(value, str) or value not in values:
                continue
            if (module.__name__, name) in NOT_OUTCOMES:
                continue
            if type(value) is Outcome:
                aliases += 1
            else:
                copies.append(f"{module.__name__}.{name} = {value!r}")
    assert copies == []
    assert aliases > 25  # classify, pipeline, relay, intake, ... name theirs through it


def test_every_outcome_the_corpus_expects_is_in_the_enum() -> None:
    expected = {
        tomllib.loads(p.read_text(encoding="utf-8"))["outcome"]
        for p in CORPUS.glob("*.expected.toml")
    }
    assert expected and expected <= set(OUTCOMES)


def test_the_outbox_statuses_are_the_stored_strings() -> None:
    from mailflow.admin.newsletter import IN_THE_OUTBOX
    from mailflow.followup.digest_outbox import FAILED
    from mailflow.store.models import OutboundMail
    from mailflow.transport.send_recovery import UNCONFIRMED

    assert [s.value for s in OutboxStatus] == [
        "queued", "sending", "handed", "sent", "unconfirmed", "failed", "bounced",
    ]  # fmt: skip
    assert OutboundMail.status.default == OutboxStatus.QUEUED == "queued"
    assert UNCONFIRMED is OutboxStatus.UNCONFIRMED and FAILED is OutboxStatus.FAILED
    assert all(type(s) is OutboxStatus for s in IN_THE_OUTBOX)
